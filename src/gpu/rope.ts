import { grid, type Gpu, type Recorder } from './gpu';
import { Params } from './params';

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

/**
 * Rotates the first rd channels of every head of x [n, heads, hd] (rows `stride` apart, default heads·hd)
 * in place, with rows tableRow0 .. of the table.
 */
export function rope(
  gpu: Gpu,
  rec: Recorder,
  a: { x: GPUBuffer; table: GPUBuffer; tableRow0?: number; n: number; heads: number; headDim: number; rotaryDim: number; stride?: number },
): void {
  const params = new Params().u32(a.n).u32(a.heads).u32(a.headDim).u32(a.rotaryDim).u32(a.stride ?? a.heads * a.headDim).u32(a.tableRow0 ?? 0);
  rec.dispatch(gpu.pipeline('rope'), params, [a.table, a.x], ...grid((a.n * a.heads * a.rotaryDim) / 2, 64));
}
