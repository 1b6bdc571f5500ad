import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';

/** Writes n tokens' keys and values (columns kCol and vCol of src rows `stride` apart) at position pos of a KV cache. */
export function kvAppend(
  gpu: Gpu,
  rec: Recorder,
  a: { src: GPUBuffer; stride: number; kCol: number; vCol: number; width: number; n: number; pos: number; k: GPUBuffer; v: GPUBuffer },
): void {
  const params = new Params().u32(a.n).u32(a.width).u32(a.stride).u32(a.kCol).u32(a.vCol).u32(a.pos);
  rec.dispatch(gpu.pipeline('kvAppend'), params, [a.src, a.k, a.v], Math.ceil(a.width / 64), a.n);
}
