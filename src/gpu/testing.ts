/** Helpers for kernel tests on a real WebGPU device: Chromium's, or Dawn's in Node. */
import { decode, encode, type StoredDType } from '../model/dtype';
import { requestGpuDevice } from './device';
import { Gpu, type KernelChoices, type Recorder } from './gpu';
import { dequantize, quantize, type QuantFormat } from '../model/quantize';
import { tensorFromBytes, type GpuTensor, type StoredWeightDType } from './tensor';
export { randn } from '../model/random';

const shared = new Map<string, Promise<Gpu>>();

/** The browser's WebGPU, or in Node Dawn's (imported only there). */
async function device(): Promise<GPUDevice> {
  if (typeof navigator !== 'undefined' && navigator.gpu) return requestGpuDevice();
  const { nodeGpuDevice } = await import('../node/gpu');
  return nodeGpuDevice();
}

/**
 * One device per test file and options (maxTensorPartBytes; choices: every kernel variant runs on
 * every adapter); validation errors fail the test instead of passing silently.
 */
export function testGpu(opts: { maxTensorPartBytes?: number; choices?: Partial<KernelChoices> } = {}): Promise<Gpu> {
  const key = JSON.stringify(opts);
  let gpu = shared.get(key);
  if (!gpu) shared.set(key, (gpu = device().then((d) => new Gpu(d, opts))));
  return gpu;
}

/** The kernel variants every kernel test runs: both tile heights, both ways of widening bytes, both KV formats, norms folded or not. */
export const VARIANTS: { choices: Partial<KernelChoices> }[] = [
  { choices: { tileRows: 1, unpackBytes: 1, barrierWorkgroup: 4, gemv: 'rows', attentionThreads: 256, lanes: 4, threads: 3, kvFormat: 'f32', foldNorm: true } },
  { choices: { tileRows: 64, unpackBytes: 0, barrierWorkgroup: 256, gemv: 'sliced', attentionThreads: 16384, lanes: 32, threads: 0, kvFormat: 'f16', foldNorm: false } },
];

/** Records with `body`, submits, and throws on any validation or out-of-memory error. */
export async function run(gpu: Gpu, body: (rec: Recorder) => void): Promise<void> {
  gpu.device.pushErrorScope('validation');
  gpu.device.pushErrorScope('out-of-memory');
  const rec = gpu.recorder();
  body(rec);
  rec.submit();
  const oom = await gpu.device.popErrorScope();
  const invalid = await gpu.device.popErrorScope();
  if (invalid || oom) throw new Error((invalid ?? oom)!.message);
}

export async function readF32(gpu: Gpu, buffer: GPUBuffer, count: number, offset = 0): Promise<Float32Array> {
  return new Float32Array(await gpu.read(buffer, offset * 4, count * 4));
}

export async function readU32(gpu: Gpu, buffer: GPUBuffer, count: number): Promise<Uint32Array> {
  return new Uint32Array(await gpu.read(buffer, 0, count * 4));
}

/** Weight formats of the kernel tests: the stored ones, and the quantized ones (quantized from F32). */
export type TestFormat = StoredDType | QuantFormat;

/**
 * A weight tensor in a format, and its values as the kernels see them (rounded to that format; for
 * the quantized ones, quantized and dequantized by the CPU reference of src/model/quantize.ts, in
 * row-major form: the GPU's tiling is the kernels' to undo).
 */
export async function weight(gpu: Gpu, values: Float32Array, shape: number[], format: TestFormat): Promise<{ t: GpuTensor; v: Float32Array }> {
  if (format === 'int8' || format === 'int4') {
    const t = await tensorFromBytes(gpu, 'test', 'f32', shape, encode(values, 'F32'), format);
    const [rows, k] = shape;
    return { t, v: dequantize(quantize(values, rows, k, format, 'test'), rows, k, format) };
  }
  const bytes = encode(values, format);
  const t = await tensorFromBytes(gpu, 'test', format.toLowerCase() as StoredWeightDType, shape, bytes);
  return { t, v: decode(bytes, format) };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}
