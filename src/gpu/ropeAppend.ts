import { grid, type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { kvHeadStride, type KvPage } from './attention';

/**
 * cos/sin table [n, rd/2, 2] for positions pos0 .. pos0+n-1, in double precision:
 * angle = pos · θ^(-2c/rd) (frequencies spaced over rd, rotate-half pairing).
 */
export function ropeTable(pos0: number, n: number, rotaryDim: number, theta: number): Float32Array {
  const half = rotaryDim / 2;
  const out = new Float32Array(n * half * 2);
  for (let t = 0; t < n; t++) {
    for (let c = 0; c < half; c++) {
      const angle = (pos0 + t) * Math.pow(theta, (-2 * c) / rotaryDim);
      out[(t * half + c) * 2] = Math.cos(angle);
      out[(t * half + c) * 2 + 1] = Math.sin(angle);
    }
  }
  return out;
}

export interface RopeAppendArgs {
  /** n rows of `stride` floats: numHeads q heads from column 0, numKvHeads k and v heads from kCol and vCol. */
  src: GPUBuffer;
  stride: number;
  kCol: number;
  vCol: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rotaryDim: number;
  /** cos/sin table (ropeTable) whose row tableRow0 + t turns token t. */
  table: GPUBuffer;
  tableRow0?: number;
  n: number;
  /** Sequence position of the first token, and the KV cache it is appended to. */
  pos: number;
  pages: KvPage[];
  pageTokens: number;
}

/**
 * RoPE on n tokens' q heads (in place) and k heads, with k and v appended at position pos of a KV
 * cache in pages of pageTokens tokens, each head padded to kvHeadStride values (f32, or f16 as the
 * device's kvFormat says): one dispatch per page the tokens fall in.
 */
export function ropeAppend(gpu: Gpu, rec: Recorder, a: RopeAppendArgs): void {
  for (let t0 = 0; t0 < a.n; ) {
    const at = a.pos + t0;
    const page = Math.floor(at / a.pageTokens);
    const row = at - page * a.pageTokens;
    const m = Math.min(a.n - t0, a.pageTokens - row);
    if (!a.pages[page]) throw new RangeError(`ropeAppend: no KV page ${page} for position ${at}`);
    const params = new Params()
      .u32(m)
      .u32(a.numHeads)
      .u32(a.numKvHeads)
      .u32(a.headDim)
      .u32(kvHeadStride(a.headDim))
      .u32(a.rotaryDim)
      .u32(a.stride)
      .u32(a.kCol)
      .u32(a.vCol)
      .u32(row)
      .u32(t0)
      .u32(a.tableRow0 ?? 0);
    const [x, y] = grid((a.numHeads + a.numKvHeads) * m, 64);
    rec.dispatch(gpu.pipeline('ropeAppend', { KV_F16: gpu.choices.kvFormat === 'f16' ? 1 : 0 }), params, [a.table, a.src, a.pages[page].k, a.pages[page].v], x, y);
    t0 += m;
  }
}
