import { type Binding, type Gpu, type Recorder } from './gpu';
import { Params } from './params';
import { scalesOf, weightConstants, type GpuTensor, type TensorPart } from './tensor';

/** Where one expert's routed rows are: rows runs[e] of `tok` (and of the row weights). */
export interface ExpertRows {
  tok: GPUBuffer; // u32 token of each routed row, grouped by expert
  runs: GPUBuffer; // u32 [E, 2]: first row and row count of each expert
  expert: number;
  /** The row count when the CPU planned the rows: a direct dispatch sized to it. */
  count?: number;
  /** Otherwise moePlan's dispatch sizes: [E, 2, 3] u32 (expertSwiglu, expertDown). */
  args?: GPUBuffer;
  /** Tokens routed in this step. */
  tokens: number;
}

/**
 * Routed rows an invocation of the expert kernels owns: 4, or 1 when at most one token is routed (decode:
 * every expert then has 0 or 1 rows, and the dispatch size ceil(count / 4) = count holds for both; the
 * invocation then owns 4 weight rows instead, invocationsFor).
 */
export function rowsPerInvocation(a: ExpertRows): 1 | 4 {
  return a.tokens === 1 ? 1 : 4;
}

/** Invocations along an expert's `rows` weight rows: one a row, or one every 4 rows when one token is decoded (TT = 1). */
export function invocationsFor(a: ExpertRows, rows: number): number {
  return rowsPerInvocation(a) === 1 ? Math.ceil(rows / 4) : rows;
}

/**
 * The workgroup size of an expert kernel over `rows` weight rows for `copies` routed rows: 64, or at one
 * token (few invocations) as Gpu.spread says. moePlan sizes its indirect dispatches by it too.
 */
export function expertWorkgroup(gpu: Gpu, tokens: number, rows: number, copies = 1): number {
  return tokens === 1 ? gpu.spread(Math.ceil(rows / 4), copies) : 64;
}

/** Dispatches an expert kernel sized by the CPU's count or, indirectly, by the GPU's plan. */
export function dispatchRows(rec: Recorder, pipeline: GPUComputePipeline, params: Params, bindings: Binding[], a: ExpertRows, width: number, wg: number, kernel: 0 | 1): void {
  if (a.count !== undefined) rec.dispatch(pipeline, params, bindings, Math.ceil(width / wg), Math.ceil(a.count / 4));
  else if (a.args) rec.dispatchIndirect(pipeline, params, bindings, a.args, (6 * a.expert + 3 * kernel) * 4);
  else throw new Error('expert rows need a count or indirect dispatch sizes');
}

/**
 * Where an expert's rows are in the matrices it is given: a layer's resident experts are stacked (expert
 * `index` of `count`: rows index·rows/count ..), an expert of its own is { index: 0, count: 1 }.
 */
export interface ExpertStack {
  index: number;
  count: number;
}

/** An expert of its own (not stacked). */
export const ALONE: ExpertStack = { index: 0, count: 1 };

/** The params both expert kernels take: sizes, the expert, the stack, the router's choices per token. */
export function expertParams(hidden: number, inter: number, expert: number, rows: number, row0: number, k: number, experts: number, alpha = 0, beta = 0): Params {
  return new Params().u32(hidden).u32(inter).u32(expert).u32(rows).u32(row0).u32(k).u32(experts).f32(alpha).f32(beta);
}

/** u[r] = SiLU(x[tok[r]]·W1ᵀ) ⊙ (x[tok[r]]·W3ᵀ) for the rows routed to one expert. */
export function expertSwiglu(
  gpu: Gpu,
  rec: Recorder,
  a: ExpertRows & { x: GPUBuffer; w1: GpuTensor; w3: GpuTensor; u: GPUBuffer; stack?: ExpertStack },
): void {
  const { index, count } = a.stack ?? ALONE;
  const [rows, hidden] = a.w1.shape;
  const inter = rows / count;
  if (a.w1.dtype !== a.w3.dtype) throw new Error(`${a.w1.name} and ${a.w3.name} differ in dtype`);
  const wg = expertWorkgroup(gpu, a.tokens, inter);
  const pipeline = gpu.pipeline('expertSwiglu', { ...weightConstants(gpu, a.w1.dtype), TT: rowsPerInvocation(a), WG: wg });
  const params = expertParams(hidden, inter, a.expert, rows, index * inter, 0, count);
  const [w1, w3] = [a.w1, a.w3].map(singlePart);
  dispatchRows(rec, pipeline, params, [a.x, w1.buffer, w3.buffer, a.tok, a.runs, a.u, scalesOf(w1), scalesOf(w3)], a, invocationsFor(a, inter), wg, 0);
}

/**
 * u[t·k + m] = SiLU(x[t]·W1ᵀ) ⊙ (x[t]·W3ᵀ) of expert idx[t·k + m] of `experts` stacked ones, for
 * every choice of n tokens in one dispatch (decode: no plan, no dispatch per expert).
 */
export function expertSwigluRouted(
  gpu: Gpu,
  rec: Recorder,
  a: { x: GPUBuffer; w1: GpuTensor; w3: GpuTensor; experts: number; idx: GPUBuffer; n: number; k: number; u: GPUBuffer },
): void {
  const [rows, hidden] = a.w1.shape;
  const inter = rows / a.experts;
  const wg = expertWorkgroup(gpu, 1, inter, a.n * a.k);
  const pipeline = gpu.pipeline('expertSwiglu', { ...weightConstants(gpu, a.w1.dtype), TT: 1, WG: wg }, 'routed');
  const params = expertParams(hidden, inter, 0, rows, 0, a.k, a.experts);
  const [w1, w3] = [a.w1, a.w3].map(singlePart);
  rec.dispatch(pipeline, params, [a.x, w1.buffer, w3.buffer, null, null, a.u, scalesOf(w1), scalesOf(w3), a.idx], Math.ceil(Math.ceil(inter / 4) / wg), a.n * a.k);
}

/** The one part of a weight that must fit one binding (an expert matrix). */
export function singlePart(t: GpuTensor): TensorPart {
  if (t.parts.length !== 1) throw new Error(`${t.name}: an expert matrix must fit one storage binding`);
  return t.parts[0];
}
