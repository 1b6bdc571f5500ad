import { type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { scalesOf, WDTYPE, type GpuTensor } from './tensor';

/** x[t] = E[ids[ids0 + t]] for n token ids (u32, checked against the vocabulary, or argmax's). */
export function embed(gpu: Gpu, rec: Recorder, a: { ids: GPUBuffer; ids0?: number; n: number; table: GpuTensor; x: GPUBuffer }): void {
  const hidden = a.table.shape[1];
  const pipeline = gpu.pipeline('embed', { WDTYPE: WDTYPE[a.table.dtype], TILE_ROWS: gpu.choices.tileRows });
  for (const part of a.table.parts) {
    const params = new Params().u32(a.n).u32(hidden).u32(part.row0).u32(part.rows).u32(a.ids0 ?? 0);
    rec.dispatch(pipeline, params, [a.ids, part.buffer, a.x, scalesOf(part)], Math.ceil(hidden / 64), a.n);
  }
}
