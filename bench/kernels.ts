/**
 * Kernels against this adapter's own ceilings, in one run (the body of bench:kernels and bench:node):
 * - copy: copyBufferToBuffer of 256 MiB;
 * - read: a kernel that sums 256 MiB of words with the GEMV's access pattern (each invocation streams
 *   its own run of vec4 words, or neighbouring invocations read neighbouring words when the adapter
 *   tiles by 64 rows) and no other math: the practical ceiling of a kernel reading these bytes;
 * - gemv (one token) of every weight format at MiniMax-M1's expert shapes and a dense 2048×2048: GB/s
 *   of weight bytes read, and its ratio to copy;
 * - gemm (prefill, 256 tokens): GFLOP/s, on 2048×2048 (and the M1 shapes on a GPU; a software adapter
 *   needs minutes for those);
 * - alu: multiply-adds on values in registers, no memory: the adapter's arithmetic ceiling. A GEMV does
 *   at least one multiply-add a weight (and a quantized one its widening besides), so a format of b bytes
 *   a weight reads at most alu/2·b GB/s: on a CPU adapter the fewer bytes a weight, the lower that
 *   ceiling falls against the read kernel's rate (the bench prints it per format).
 */
import { Gpu } from '../src/gpu/gpu';
import { matmul } from '../src/gpu/matmul';
import { destroyTensor, tensorFromBytes, type StoredWeightDType, type WeightDType } from '../src/gpu/tensor';
import { encode } from '../src/model/dtype';
import { isQuantFormat } from '../src/model/quantize';
import { randn } from '../src/model/random';

export interface KernelRow {
  runtime: string;
  op: 'copy' | 'read' | 'gemv' | 'gemm';
  format: WeightDType | '-';
  shape: string;
  'GB/s': number;
  'ratio to copy': number;
  'GFLOP/s': number;
}

const FORMATS: WeightDType[] = ['f32', 'f16', 'bf16', 'int8', 'int4'];
export const M1_SHAPES: [number, number][] = [[9216, 6144], [6144, 9216]];
const GEMM_TOKENS = 256;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median seconds of `reps` runs of `body` (submit and wait), after one that compiles. */
async function timed(gpu: Gpu, body: () => void, reps = 3): Promise<number> {
  const ts: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const t = performance.now();
    body();
    await gpu.device.queue.onSubmittedWorkDone();
    ts.push((performance.now() - t) / 1000);
  }
  return median(ts.slice(1));
}

/** Median seconds of one dispatch of `workgroups` workgroups. */
function timedDispatch(gpu: Gpu, pipe: GPUComputePipeline, group: GPUBindGroup, workgroups: number): Promise<number> {
  return timed(gpu, () => {
    const enc = gpu.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups);
    pass.end();
    gpu.device.queue.submit([enc.finish()]);
  });
}

const round = (x: number, digits: number) => +x.toFixed(digits);

/** Every row, and the ALU ceiling; throws if the device reported any error (a dropped submit would time as a fast one). */
export async function benchKernels(gpu: Gpu, runtime: string, log: (line: string) => void = () => {}): Promise<{ rows: KernelRow[]; alu: AluCeiling }> {
  gpu.device.pushErrorScope('validation');
  const alu = await aluCeiling(gpu, log);
  const rows = await measure(gpu, runtime, log);
  const error = await gpu.device.popErrorScope();
  if (error || gpu.error) throw new Error(`the kernel bench hit a device error: ${error?.message ?? gpu.error}`);
  return { rows, alu };
}

/** What the adapter's arithmetic allows a GEMV: GFLOP/s of multiply-adds in registers, and GB/s per format at two flops a weight. */
export interface AluCeiling {
  'GFLOP/s': number;
  'GEMV GB/s at most': Record<WeightDType, number>;
}

// Bytes a GEMV reads a weight: int8 and int4 with their u32 of block scales (blocks of 32 and 16).
const BYTES_PER_WEIGHT: Record<WeightDType, number> = { f32: 4, f16: 2, bf16: 2, int8: 1 + 4 / 32, int4: 0.5 + 4 / 16 };

async function aluCeiling(gpu: Gpu, log: (line: string) => void): Promise<AluCeiling> {
  // 64 Ki invocations, 4 independent vec4 chains of `iters` multiply-adds each (iters from a buffer, so
  // nothing is unrolled away); the sum is written so nothing is dead.
  const iters = 256;
  const module = gpu.device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
        let n = u32(o[0]); let m = vec4f(o[1]); let c = vec4f(o[2]);
        var a = vec4f(f32(g.x)); var b = a + 1.0; var d = a + 2.0; var e = a + 3.0;
        for (var i = 0u; i < n; i++) { a = a * m + c; b = b * m + c; d = d * m + c; e = e * m + c; }
        o[3u + g.x] = dot(a + b + d + e, vec4f(1.0)); }`,
  });
  const pipe = gpu.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const o = gpu.buffer((3 + 65536) * 4, 'alu');
  gpu.write(o, 0, new Float32Array([iters, 0.999, 0.001]));
  const group = gpu.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: o } }] });
  const s = await timedDispatch(gpu, pipe, group, 1024);
  o.destroy();
  const gflops = (65536 * iters * 16 * 2) / s / 1e9;
  const most = Object.fromEntries(FORMATS.map((f) => [f, round((gflops / 2) * BYTES_PER_WEIGHT[f], 2)])) as Record<WeightDType, number>;
  log(`alu: ${gflops.toFixed(2)} GFLOP/s of multiply-adds; a GEMV at two flops a weight reads at most ${FORMATS.map((f) => `${f} ${most[f]}`).join(', ')} GB/s`);
  return { 'GFLOP/s': round(gflops, 2), 'GEMV GB/s at most': most };
}

async function measure(gpu: Gpu, runtime: string, log: (line: string) => void): Promise<KernelRow[]> {
  const rows: KernelRow[] = [];
  const push = (r: Omit<KernelRow, 'runtime'>) => {
    rows.push({ runtime, ...r });
    log(`${r.op} ${r.format} ${r.shape}: ${r['GB/s']} GB/s (${r['ratio to copy']} of copy) ${r['GFLOP/s']} GFLOP/s`);
  };
  // 256 MiB, or the largest binding (lavapipe binds at most 128 MiB).
  const bytes = Math.min(256 << 20, gpu.maxBindingBytes & ~0xfffff);
  const mib = `${bytes >> 20} MiB`;
  const a = gpu.buffer(bytes, 'a');
  const b = gpu.buffer(bytes, 'b');
  const copyS = await timed(gpu, () => {
    const enc = gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(a, 0, b, 0, bytes);
    gpu.device.queue.submit([enc.finish()]);
  });
  const copy = bytes / copyS / 1e9;
  push({ op: 'copy', format: '-', shape: mib, 'GB/s': round(copy, 2), 'ratio to copy': 1, 'GFLOP/s': 0 });

  // 64 Ki invocations, each summing `per` vec4 words: its own run (tile height 1) or, tiled by 64, word
  // i of invocation l of a workgroup at i·64 + l.
  const T = gpu.choices.tileRows;
  const module = gpu.device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read> w: array<vec4u>; @group(0) @binding(1) var<storage, read_write> o: array<u32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
        let per = arrayLength(&w) / 65536u; let t0 = g.x - g.x % ${T}u; let base = t0 * per + g.x % ${T}u;
        var s = vec4u(0u);
        for (var i = 0u; i < per; i++) { s += w[base + i * ${T}u]; }
        o[g.x] = s.x + s.y + s.z + s.w; }`,
  });
  const pipe = gpu.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const out = gpu.buffer(65536 * 4, 'o');
  const group = gpu.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: a } }, { binding: 1, resource: { buffer: out } }] });
  const readS = await timedDispatch(gpu, pipe, group, 1024);
  push({ op: 'read', format: '-', shape: mib, 'GB/s': round(bytes / readS / 1e9, 2), 'ratio to copy': round(bytes / readS / 1e9 / copy, 3), 'GFLOP/s': 0 });
  a.destroy();
  b.destroy();
  out.destroy();

  const cpuAdapter = gpu.choices.tileRows === 1;
  for (const [r, k] of [[2048, 2048] as [number, number], ...M1_SHAPES]) {
    const values = randn(r * k, r + k, 0.02);
    const gemm = !cpuAdapter || r === 2048;
    const x = gpu.upload(randn((gemm ? GEMM_TOKENS : 1) * k, 7), 'x');
    const y = gpu.buffer((gemm ? GEMM_TOKENS : 1) * r * 4, 'y');
    for (const format of FORMATS) {
      const quant = isQuantFormat(format) ? format : undefined;
      const stored: StoredWeightDType = quant ? 'f32' : (format as StoredWeightDType);
      const w = await tensorFromBytes(gpu, `w ${format}`, stored, [r, k], encode(values, stored.toUpperCase() as 'F32'), quant);
      const wBytes = w.parts.reduce((s, p) => s + p.buffer.size, 0);
      const gemvS = await timed(gpu, () => {
        const rec = gpu.recorder();
        matmul(gpu, rec, { x, n: 1, w, y });
        rec.submit();
      });
      const gbs = wBytes / gemvS / 1e9;
      push({ op: 'gemv', format, shape: `${r}x${k}`, 'GB/s': round(gbs, 2), 'ratio to copy': round(gbs / copy, 3), 'GFLOP/s': round((2 * r * k) / gemvS / 1e9, 2) });
      if (gemm) {
        const gemmS = await timed(
          gpu,
          () => {
            const rec = gpu.recorder();
            matmul(gpu, rec, { x, n: GEMM_TOKENS, w, y });
            rec.submit();
          },
          cpuAdapter ? 1 : 3,
        );
        push({ op: 'gemm', format, shape: `${GEMM_TOKENS}x${k} · ${r}x${k}ᵀ`, 'GB/s': round(wBytes / gemmS / 1e9, 3), 'ratio to copy': round(wBytes / gemmS / 1e9 / copy, 4), 'GFLOP/s': round((2 * GEMM_TOKENS * r * k) / gemmS / 1e9, 2) });
      }
      destroyTensor(w);
    }
    x.destroy();
    y.destroy();
  }
  return rows;
}

/** The rows as an aligned text table. */
export function table(rows: object[]): string {
  if (!rows.length) return '';
  const keys = Object.keys(rows[0]);
  const cells = [keys, ...rows.map((r) => keys.map((k) => String((r as Record<string, unknown>)[k])))];
  const widths = keys.map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells.map((c) => c.map((v, i) => v.padEnd(widths[i])).join(' | ')).join('\n');
}
