import type { ModelConfig } from '../model/config';
import { INDIRECT_STORAGE, type Gpu } from '../gpu/gpu';
import { attentionScratchFloats } from '../gpu/attention';

/** Activation buffers for up to `tokens` tokens at a time, reused by every forward call. */
export class Workspace {
  readonly ids: GPUBuffer;
  x: GPUBuffer; // [tokens, Hs] residual stream
  a: GPUBuffer; // [tokens, Hs] branch output (swapped with x at each residual join)
  readonly h: GPUBuffer; // [tokens, Hs] normed
  readonly qkv: GPUBuffer; // lightning: [tokens, nh, 3, hd]; softmax: [tokens, q | k | v] (3·nh·hd ≥ nh·hd + 2·nkv·hd)
  readonly q: GPUBuffer; // [tokens, nh·hd] lightning gate
  readonly attn: GPUBuffer; // [tokens, nh·hd] attention output before its projection
  readonly lightningScores: GPUBuffer; // [nh, block, block] one prefill block's decayed scores
  readonly rope: GPUBuffer; // [tokens, rd/2, 2]
  /** Softmax attention's running (m, l, acc) of each split (src/gpu/attention.ts): bounded, whatever the context. */
  readonly attentionScratch: GPUBuffer;
  readonly routerLogits: GPUBuffer; // [tokens, E]
  readonly routeIdx: GPUBuffer; // [tokens, k] u32
  readonly routeWeight: GPUBuffer; // [tokens, k]
  readonly predictIdx: GPUBuffer; // [tokens, k] u32 experts predicted for prefetch
  readonly planTok: GPUBuffer; // [tokens·k] u32 token of each routed row, grouped by expert
  readonly planWeight: GPUBuffer; // [tokens·k]
  readonly runs: GPUBuffer; // [E, 2] u32 first plan row and row count of each expert
  readonly expertArgs: GPUBuffer; // [E, 2, 3] u32 indirect dispatch sizes of each expert's two kernels
  readonly denseRun: GPUBuffer; // [1, 2] u32 (0, tokens of this call): every token through one expert
  readonly expertHidden: GPUBuffer; // [max(tokens, k), max(I, shared I)]: a routed row each (decode: a token's k choices)
  readonly shared: GPUBuffer; // [tokens, Hs] shared expert output
  readonly iota: GPUBuffer; // [tokens] u32 0, 1, 2, …
  readonly ones: GPUBuffer; // [tokens] 1.0
  /** [rows, V]: one row until a caller asks for the logits of every position. */
  logits: GPUBuffer;
  private logitsRows = 1;
  readonly token: GPUBuffer; // [1] u32 sampled token
  /** Most logits rows at once: one storage binding. */
  readonly maxLogitRows: number;
  private readonly all: GPUBuffer[] = [];

  private readonly vocab: number;

  constructor(
    private readonly gpu: Gpu,
    c: ModelConfig,
    tokens: number,
    lightningBlock: number,
  ) {
    this.vocab = c.vocabSize;
    const f = (count: number, label: string) => {
      const b = gpu.buffer(count * 4, label);
      this.all.push(b);
      return b;
    };
    const Hs = c.hiddenSize;
    const qw = c.numHeads * c.headDim;
    const k = c.expertsPerToken;
    this.ids = f(tokens, 'ids');
    this.x = f(tokens * Hs, 'x');
    this.a = f(tokens * Hs, 'a');
    this.h = f(tokens * Hs, 'h');
    this.qkv = f(tokens * 3 * qw, 'qkv');
    this.q = f(tokens * qw, 'q');
    this.attn = f(tokens * qw, 'attn');
    this.lightningScores = f(c.layerKinds.includes('lightning') ? c.numHeads * lightningBlock * lightningBlock : 1, 'lightning scores');
    this.rope = f(tokens * c.rotaryDim, 'rope');
    // n·nh·splits ≤ max(n·nh, attentionThreads + n·nh) (attentionSplits).
    this.attentionScratch = f(c.layerKinds.includes('softmax') ? attentionScratchFloats(1, 1, c.headDim, gpu.choices.attentionThreads + tokens * c.numHeads) : 1, 'attention scratch');
    this.routerLogits = f(tokens * Math.max(c.numExperts, 1), 'router logits');
    this.routeIdx = f(tokens * k, 'route idx');
    this.routeWeight = f(tokens * k, 'route weight');
    this.predictIdx = f(tokens * k, 'predicted experts');
    this.planTok = f(tokens * k, 'plan tok');
    this.planWeight = f(tokens * k, 'plan weight');
    this.runs = f(2 * c.numExperts, 'expert runs');
    this.expertArgs = gpu.buffer(6 * c.numExperts * 4, 'expert dispatch sizes', INDIRECT_STORAGE);
    this.all.push(this.expertArgs);
    this.denseRun = f(2, 'dense run');
    this.expertHidden = f(Math.max(tokens, k) * Math.max(c.intermediateSize, c.sharedIntermediateSize), 'expert hidden');
    this.shared = f(c.sharedIntermediateSize > 0 ? tokens * Hs : 1, 'shared expert');
    this.iota = f(tokens, 'iota');
    this.ones = f(tokens, 'ones');
    gpu.write(this.iota, 0, Uint32Array.from({ length: tokens }, (_, i) => i));
    gpu.write(this.ones, 0, new Float32Array(tokens).fill(1));
    this.maxLogitRows = Math.max(1, Math.min(tokens, Math.floor(gpu.maxBindingBytes / (c.vocabSize * 4))));
    this.logits = gpu.buffer(c.vocabSize * 4, 'logits');
    this.token = f(1, 'token');
  }

  /**
   * Room for `rows` logits rows (at most maxLogitRows); returns how many fit. The real vocabulary makes
   * a row 800 kB, so the buffer grows only when the logits of every position are asked for.
   */
  logitsFor(rows: number, rec: { afterSubmit(fn: () => void): void }): number {
    const want = Math.min(rows, this.maxLogitRows);
    if (want > this.logitsRows) {
      const old = this.logits;
      rec.afterSubmit(() => old.destroy());
      this.logits = this.gpu.buffer(want * this.vocab * 4, 'logits');
      this.logitsRows = want;
    }
    return Math.min(want, this.logitsRows);
  }

  /** Bytes of every buffer here. */
  get bytes(): number {
    return this.all.reduce((s, b) => s + b.size, 0) + this.logits.size;
  }

  destroy(): void {
    for (const b of this.all) b.destroy();
    this.logits.destroy();
  }
}
