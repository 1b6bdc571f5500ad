import { decode, type StoredDType } from '../model/dtype';
import { quantize, quantLayout, type QuantFormat } from '../model/quantize';
import type { Gpu } from './gpu';

/** Checkpoint formats: they stay packed on the GPU and are widened to f32 by the shaders. */
export type StoredWeightDType = 'f32' | 'f16' | 'bf16';
/** Formats on the GPU: the stored ones, and the block-quantized ones of src/model/quantize.ts. */
export type WeightDType = StoredWeightDType | QuantFormat;
export const WDTYPE: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 2, int8: 3, int4: 4 };
export const WEIGHT_BYTES: Record<StoredWeightDType, number> = { f32: 4, f16: 2, bf16: 2 };

/** Rows row0 .. row0+rows of a weight matrix, in a buffer of their own. */
export interface TensorPart {
  buffer: GPUBuffer;
  row0: number;
  rows: number;
  /** Quantized formats: where in `buffer` the block scales start. */
  scaleOffset?: number;
}

/** The binding of a part's block scales; for float formats (whose kernels never read it) the part itself. */
export function scalesOf(part: TensorPart): { buffer: GPUBuffer; offset?: number } {
  return part.scaleOffset === undefined ? { buffer: part.buffer } : { buffer: part.buffer, offset: part.scaleOffset };
}

/**
 * A weight on the GPU. Tensors larger than one storage binding (the real embedding and lm_head are 2.4 GB)
 * are split by rows into parts; kernels loop over the parts.
 */
export interface GpuTensor {
  name: string;
  dtype: WeightDType;
  shape: number[];
  parts: TensorPart[];
}

/** Row ranges of at most maxBytes each (and a whole number of 4-byte words, so 2-byte rows pair up). */
export function rowParts(name: string, rows: number, rowBytes: number, maxBytes: number): { row0: number; rows: number }[] {
  let per = Math.floor(maxBytes / rowBytes);
  if (per < 1) throw new Error(`${name}: one row (${rowBytes} bytes) is larger than a storage binding (${maxBytes} bytes)`);
  if (per < rows && rowBytes % 4 !== 0 && per % 2 === 1) per -= 1;
  if (per < 1) throw new Error(`${name}: rows of ${rowBytes} bytes cannot be split within ${maxBytes} bytes`);
  const out = [];
  for (let row0 = 0; row0 < rows; row0 += per) out.push({ row0, rows: Math.min(per, rows - row0) });
  return out;
}

const UPLOAD_CHUNK = 16 << 20;

/**
 * Uploads a weight whose raw bytes `read(byteOffset, byteLength)` returns, part by part, in chunks;
 * with `quant`, a matrix is quantized on the way (part by part, on the CPU).
 */
export async function uploadTensor(
  gpu: Gpu,
  name: string,
  dtype: StoredWeightDType,
  shape: number[],
  read: (byteOffset: number, byteLength: number) => Promise<Uint8Array>,
  quant?: QuantFormat,
): Promise<GpuTensor> {
  if (quant && shape.length === 2) return uploadQuantized(gpu, name, dtype, shape as [number, number], read, quant);
  const rows = shape.length > 1 ? shape[0] : 1;
  const rowBytes = (shape.length > 1 ? shape.slice(1) : shape).reduce((a, b) => a * b, 1) * WEIGHT_BYTES[dtype];
  const parts: TensorPart[] = [];
  for (const { row0, rows: n } of rowParts(name, rows, rowBytes, gpu.maxTensorPartBytes)) {
    const bytes = n * rowBytes;
    const buffer = gpu.buffer(bytes, `${name}[${row0}:${row0 + n}]`);
    parts.push({ buffer, row0, rows: n });
    for (let off = 0; off < bytes; off += UPLOAD_CHUNK) {
      const len = Math.min(UPLOAD_CHUNK, bytes - off);
      gpu.write(buffer, off, await read(row0 * rowBytes + off, len));
    }
  }
  return { name, dtype, shape, parts };
}

async function uploadQuantized(
  gpu: Gpu,
  name: string,
  dtype: StoredWeightDType,
  [rows, k]: [number, number],
  read: (byteOffset: number, byteLength: number) => Promise<Uint8Array>,
  quant: QuantFormat,
): Promise<GpuTensor> {
  const L = quantLayout(quant, k);
  const rawRow = k * WEIGHT_BYTES[dtype];
  const parts: TensorPart[] = [];
  // 256 bytes of each part go to the padding before its scales.
  for (const { row0, rows: n } of rowParts(name, rows, (L.rowWords + L.blocks) * 4, gpu.maxTensorPartBytes - 256)) {
    const image = quantizeRows(await read(row0 * rawRow, n * rawRow), dtype, n, k, quant, name);
    const buffer = gpu.buffer(image.byteLength, `${name}[${row0}:${row0 + n}] ${quant}`);
    gpu.write(buffer, 0, image);
    parts.push({ buffer, row0, rows: n, scaleOffset: L.scaleOffset(n) });
  }
  return { name, dtype: quant, shape: [rows, k], parts };
}

/** The GPU image of `rows` rows of a stored [rows, k] matrix, quantized. */
export function quantizeRows(raw: Uint8Array, dtype: StoredWeightDType, rows: number, k: number, quant: QuantFormat, name: string): Uint8Array {
  return quantize(decode(raw, dtype.toUpperCase() as StoredDType), rows, k, quant, name);
}

/** A weight from bytes already in memory. */
export function tensorFromBytes(gpu: Gpu, name: string, dtype: StoredWeightDType, shape: number[], bytes: Uint8Array, quant?: QuantFormat): Promise<GpuTensor> {
  return uploadTensor(gpu, name, dtype, shape, async (o, n) => bytes.subarray(o, o + n), quant);
}

export function destroyTensor(t: GpuTensor): void {
  for (const p of t.parts) p.buffer.destroy();
}
