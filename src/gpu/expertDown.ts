import { type Gpu, type Recorder } from './gpu';
import { scalesOf, weightConstants, type GpuTensor } from './tensor';
import { ALONE, dispatchRows, expertParams, expertWorkgroup, invocationsFor, rowsPerInvocation, singlePart, type ExpertRows, type ExpertStack } from './expertSwiglu';

/** out[tok[r]] += weight[r] · (u[r]·W2ᵀ) for the rows routed to one expert. */
export function expertDown(
  gpu: Gpu,
  rec: Recorder,
  a: ExpertRows & { u: GPUBuffer; w2: GpuTensor; weight: GPUBuffer; out: GPUBuffer; stack?: ExpertStack },
): void {
  const { index, count } = a.stack ?? ALONE;
  const [rows, inter] = a.w2.shape;
  const hidden = rows / count;
  const wg = expertWorkgroup(gpu, a.tokens, hidden);
  const pipeline = gpu.pipeline('expertDown', { ...weightConstants(gpu, a.w2.dtype), TT: rowsPerInvocation(a), WG: wg });
  const params = expertParams(hidden, inter, a.expert, rows, index * hidden, 0, count);
  const w2 = singlePart(a.w2);
  dispatchRows(rec, pipeline, params, [a.u, w2.buffer, a.tok, a.weight, a.runs, a.out, scalesOf(w2)], a, invocationsFor(a, hidden), wg, 1);
}

/**
 * out[t] = Σ weight[t·k + m] · (u[t·k + m]·W2ᵀ) over the k choices of each of n tokens (expertSwigluRouted's
 * u; W2 of `experts` stacked ones), added in expert order: what one expertDown an expert adds to a cleared out.
 */
export function expertDownRouted(
  gpu: Gpu,
  rec: Recorder,
  a: {
    u: GPUBuffer;
    w2: GpuTensor;
    experts: number;
    idx: GPUBuffer;
    weight: GPUBuffer;
    n: number;
    k: number;
    out: GPUBuffer;
    /** out = alpha·r + beta·(the sum): the residual join fused in (r laid out as out). */
    residual?: { r: GPUBuffer; alpha: number; beta: number };
  },
): void {
  const [rows, inter] = a.w2.shape;
  const hidden = rows / a.experts;
  const wg = expertWorkgroup(gpu, 1, hidden, a.n);
  const pipeline = gpu.pipeline('expertDown', { ...weightConstants(gpu, a.w2.dtype), TT: 1, RESIDUAL: a.residual ? 1 : 0, WG: wg }, 'routed');
  const params = expertParams(hidden, inter, 0, rows, 0, a.k, a.experts, a.residual?.alpha, a.residual?.beta);
  const w2 = singlePart(a.w2);
  // Without a residual the binding is unused: bind u again rather than leave it out of the layout.
  rec.dispatch(pipeline, params, [a.u, w2.buffer, null, a.weight, null, a.out, scalesOf(w2), a.idx, a.residual?.r ?? a.u], Math.ceil(Math.ceil(hidden / 4) / wg), a.n);
}
