import { type Gpu, type KvFormat, type Recorder } from './gpu';
import { Params } from './params';

/** The largest head_dim the kernel holds in registers (shaders/attention.wgsl MAX_HD). */
export const MAX_HEAD_DIM = 256;

/** Values a KV head takes in a page: head_dim rounded up to whole quads (the rest zero). */
export function kvHeadStride(headDim: number): number {
  return Math.ceil(headDim / 4) * 4;
}

/** Bytes one token's keys (or values) take in a page of a layer's KV cache. */
export function kvRowBytes(numKvHeads: number, headDim: number, format: KvFormat): number {
  return numKvHeads * kvHeadStride(headDim) * (format === 'f16' ? 2 : 4);
}

/**
 * One page of a layer's KV cache: tokens page·pageTokens … of the sequence, [pageTokens, nkv,
 * kvHeadStride] values each, in the device's kvFormat (f32, or f16 halves packed two a word).
 */
export interface KvPage {
  k: GPUBuffer;
  v: GPUBuffer;
}

export interface AttentionArgs {
  q: GPUBuffer; // [n, qStride], its first nh·hd values the heads, RoPE applied (with `append`, not yet)
  qStride?: number; // default nh·hd
  /** The KV cache in pages of pageTokens tokens; they hold the past + n keys (with `append`, the past ones and room for the token's). */
  pages: KvPage[];
  pageTokens: number;
  /** Scratch of at least attentionScratchFloats(…) floats. */
  part: GPUBuffer;
  o: GPUBuffer; // [n, nh, hd]
  n: number;
  past: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /**
   * One token (n = 1) whose q, k and v are still unturned in q's row, k from column kCol and v from vCol:
   * attention turns them (ropeAppend's work, cos/sin at row `row` of `table`) and appends k and v to
   * the cache at position `past`.
   */
  append?: { table: GPUBuffer; row: number; kCol: number; vCol: number; rotaryDim: number };
}

/**
 * The workgroup size of attention's pages: Gpu.spread's for one token's heads, the same for every
 * query count and split, so a growing sequence needs no new workgroup size (FINAL still changes when
 * its keys first split or fill a second page).
 */
function pageWorkgroup(gpu: Gpu, numHeads: number): number {
  return gpu.spread(numHeads);
}

/**
 * How many ways each page's keys are split: enough (query, head, split) invocations to keep the
 * adapter busy (Gpu.choices.attentionThreads), no split under 16 keys. But only while the unsplit
 * invocations leave part of the adapter idle: fewer (query, head) pairs than its lanes (SwiftShader,
 * 2 heads over 16,384 keys: 10.2 ms unsplit, 6.8 ms in 32), or on a GPU splits that add workgroups.
 * A CPU adapter runs each workgroup's lanes a group at a time on one thread, so there splits that
 * only fill another thread cost a reduce pass (stories260k decode on SwiftShader: 43 µs a layer) for
 * little attention work, and a new pipeline mid-reply once the keys pass 16.
 */
export function attentionSplits(gpu: Gpu, n: number, numHeads: number, keys: number): number {
  const pairs = n * numHeads;
  const want = Math.ceil(gpu.choices.attentionThreads / pairs);
  const splits = Math.max(1, Math.min(want, Math.ceil(keys / 16)));
  const groups = (s: number) => Math.ceil((pairs * s) / pageWorkgroup(gpu, numHeads));
  const idle = pairs < gpu.choices.lanes || (!gpu.choices.threads && groups(splits) > groups(1));
  return idle ? splits : 1;
}

/** Floats of scratch attention needs for n queries (at most `splits` splits a page). */
export function attentionScratchFloats(n: number, numHeads: number, headDim: number, splits: number): number {
  return n * numHeads * splits * (2 + headDim);
}

/** Workgroup counts for `count` invocations in workgroups of `wg`, past the 65535 limit of one dimension. */
function grid(count: number, wg = 64): [number, number] {
  const groups = Math.ceil(count / wg);
  return groups <= 65535 ? [groups, 1] : [65535, Math.ceil(groups / 65535)];
}

/** Causal GQA softmax attention of n new queries over past + n cached keys, scaled by 1/sqrt(hd). */
export function attention(gpu: Gpu, rec: Recorder, a: AttentionArgs): void {
  if (a.headDim > MAX_HEAD_DIM) throw new RangeError(`attention: head_dim ${a.headDim} is over the ${MAX_HEAD_DIM} the kernel holds`);
  if (a.append && a.n !== 1) throw new RangeError(`attention: appending takes one token, got ${a.n}`);
  const total = a.past + a.n;
  const used = Math.ceil(total / a.pageTokens);
  if (a.pages.length < used) throw new RangeError(`attention: ${a.pages.length} KV pages of ${a.pageTokens} tokens cannot hold ${total}`);
  const splits = attentionSplits(gpu, a.n, a.numHeads, Math.min(a.pageTokens, total));
  // Queries an invocation takes: up to 8 while their registers fit (shaders/attention.wgsl), 1 for decode
  // (2 or 3 queries take prefill's pipeline: decode's appends).
  // Measured on SwiftShader, 256 queries over 4000 keys (hd 32): 8 take 268 ms, 4 take 357 ms.
  const quads = Math.ceil(a.headDim / 4);
  const qt = a.n >= 2 ? Math.max(1, Math.min(8, Math.floor(MAX_HEAD_DIM / 4 / quads))) : 1;
  const final = used === 1 && splits === 1;
  const invocations = Math.ceil(a.n / qt) * a.numHeads * splits;
  const wg = pageWorkgroup(gpu, a.numHeads);
  const page = gpu.pipeline('attention', { QT: qt, FINAL: final ? 1 : 0, KV_F16: gpu.choices.kvFormat === 'f16' ? 1 : 0, HD: a.headDim, WG: wg, APPEND: a.append ? 1 : 0 }, 'page');
  const qStride = a.qStride ?? a.numHeads * a.headDim;
  const params = (page0: number, pageLen: number, first: boolean) =>
    new Params()
      .u32(a.n)
      .u32(a.numHeads)
      .u32(a.numKvHeads)
      .u32(a.headDim)
      .u32(a.past)
      .f32(1 / Math.sqrt(a.headDim))
      .u32(qStride)
      .u32(splits)
      .u32(page0)
      .u32(pageLen)
      .u32(first ? 1 : 0)
      .u32(a.append?.rotaryDim ?? 0)
      .u32(a.append?.kCol ?? 0)
      .u32(a.append?.vCol ?? 0)
      .u32(a.append?.row ?? 0);
  const [x, y] = grid(invocations, wg);
  for (let i = 0; i < used; i++) {
    const page0 = i * a.pageTokens;
    // Without append the table is unused: bind q again rather than leave it out of the layout.
    rec.dispatch(page, params(page0, Math.min(a.pageTokens, total - page0), i === 0), [a.q, a.pages[i].k, a.pages[i].v, a.part, a.o, a.append?.table ?? a.q], x, y);
  }
  if (final) return;
  const [rx, ry] = grid(a.n * a.numHeads * a.headDim);
  rec.dispatch(gpu.pipeline('attention', {}, 'reduce'), params(0, 0, false), [null, null, null, a.part, a.o], rx, ry);
}
