import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';

import { kvHeadStride, type KvPage } from './attention';

/**
 * Writes n tokens' keys and values (`heads` heads of headDim from columns kCol and vCol of src rows
 * `stride` apart) at position pos of a KV cache in pages of pageTokens tokens, each head padded to
 * kvHeadStride floats: one dispatch per page the tokens fall in.
 */
export function kvAppend(
  gpu: Gpu,
  rec: Recorder,
  a: { src: GPUBuffer; stride: number; kCol: number; vCol: number; heads: number; headDim: number; n: number; pos: number; pages: KvPage[]; pageTokens: number },
): void {
  for (let t0 = 0; t0 < a.n; ) {
    const at = a.pos + t0;
    const page = Math.floor(at / a.pageTokens);
    const row = at - page * a.pageTokens;
    const m = Math.min(a.n - t0, a.pageTokens - row);
    if (!a.pages[page]) throw new RangeError(`kvAppend: no KV page ${page} for position ${at}`);
    const params = new Params().u32(m).u32(a.heads).u32(a.headDim).u32(kvHeadStride(a.headDim)).u32(a.stride).u32(a.kCol).u32(a.vCol).u32(row).u32(t0);
    rec.dispatch(gpu.pipeline('kvAppend'), params, [a.src, a.pages[page].k, a.pages[page].v], Math.ceil((a.heads * a.headDim) / 64), m);
    t0 += m;
  }
}
