import { isQuantFormat, type QuantFormat } from '../model/quantize';
import { imageLayout, imageRowBytes, imageSlice, type ImageLayout, type ImageSlice } from './weightImage';
import type { Gpu } from './gpu';

/** Checkpoint formats: they stay packed on the GPU and are widened to f32 by the shaders. */
export type StoredWeightDType = 'f32' | 'f16' | 'bf16';
/** Formats on the GPU: the stored ones, and the block-quantized ones of src/model/quantize.ts. */
export type WeightDType = StoredWeightDType | QuantFormat;
export const WDTYPE: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 2, int8: 3, int4: 4 };
export const WEIGHT_BYTES: Record<StoredWeightDType, number> = { f32: 4, f16: 2, bf16: 2 };

/** Pipeline constants of a kernel that reads matrices of `dtype` through shaders/chunkDot.wgsl. */
export function weightConstants(gpu: Gpu, dtype: WeightDType): Record<string, number> {
  return { WDTYPE: WDTYPE[dtype], TILE_ROWS: gpu.choices.tileRows, UNPACK_BYTES: gpu.choices.unpackBytes };
}

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

/** Row ranges of at most maxBytes each. */
export function rowParts(name: string, rows: number, rowBytes: number, maxBytes: number): { row0: number; rows: number }[] {
  const per = Math.floor(maxBytes / rowBytes);
  if (per < 1) throw new Error(`${name}: one row (${rowBytes} bytes) is larger than a storage binding (${maxBytes} bytes)`);
  const out = [];
  for (let row0 = 0; row0 < rows; row0 += per) out.push({ row0, rows: Math.min(per, rows - row0) });
  return out;
}

/** Raw bytes read (and tiled) at a time while uploading. */
const UPLOAD_CHUNK = 16 << 20;

/**
 * Uploads a weight whose raw bytes `read(byteOffset, byteLength)` returns: a matrix tiled
 * (src/gpu/weightImage.ts) and, with `quant`, quantized on the way; a vector as it is.
 */
export async function uploadTensor(
  gpu: Gpu,
  name: string,
  dtype: StoredWeightDType,
  shape: number[],
  read: (byteOffset: number, byteLength: number) => Promise<Uint8Array>,
  quant?: QuantFormat,
): Promise<GpuTensor> {
  if (shape.length !== 2) {
    const bytes = shape.reduce((a, b) => a * b, 1) * WEIGHT_BYTES[dtype];
    const buffer = gpu.buffer(Math.ceil(bytes / 4) * 4, name);
    gpu.write(buffer, 0, await read(0, bytes));
    return { name, dtype, shape, parts: [{ buffer, row0: 0, rows: 1 }] };
  }
  const [rows, k] = shape;
  const rawRow = k * WEIGHT_BYTES[dtype];
  return uploadMatrix(gpu, name, quant ?? dtype, [rows, k], rawRow, async (r0, n) => imageSlice(await read(r0 * rawRow, n * rawRow), dtype, n, k, quant, name, gpu.choices.tileRows));
}

/**
 * Uploads a [rows, k] matrix in `format`, part by part, a few tiles of rows at a time: `slice(r0, n)`
 * gives the image of rows r0 .. r0 + n (about `rowBytes` bytes of source a row).
 */
export async function uploadMatrix(
  gpu: Gpu,
  name: string,
  format: WeightDType,
  [rows, k]: [number, number],
  rowBytes: number,
  slice: (r0: number, n: number) => Promise<ImageSlice>,
): Promise<GpuTensor> {
  const T = gpu.choices.tileRows;
  const batch = Math.max(1, Math.floor(UPLOAD_CHUNK / rowBytes / T)) * T;
  const parts: TensorPart[] = [];
  // Quantized parts give 256 bytes to the padding before their scales.
  const pad = isQuantFormat(format) ? 256 : 0;
  for (const { row0, rows: n } of rowParts(name, rows, imageRowBytes(format, k), gpu.maxTensorPartBytes - pad)) {
    const { part, layout } = matrixPart(gpu, `${name}[${row0}:${row0 + n}]`, format, row0, n, k);
    parts.push(part);
    for (let r = 0; r < n; r += batch) writeSlice(gpu, part.buffer, layout, r, await slice(row0 + r, Math.min(batch, n - r)));
  }
  return { name, dtype: format, shape: [rows, k], parts };
}

/** A buffer for the image of rows row0 .. row0 + rows of a [*, k] matrix in `format`, and its layout. */
export function matrixPart(gpu: Gpu, label: string, format: WeightDType, row0: number, rows: number, k: number): { part: TensorPart; layout: ImageLayout } {
  const layout = imageLayout(format, rows, k);
  const quantized = isQuantFormat(format);
  const buffer = gpu.buffer(layout.bytes, quantized ? `${label} ${format}` : label);
  return { part: { buffer, row0, rows, ...(quantized ? { scaleOffset: layout.scaleOffset } : {}) }, layout };
}

/** Writes an image slice of rows row0 .. of a part whose layout is L. */
export function writeSlice(gpu: Gpu, buffer: GPUBuffer, L: ImageLayout, row0: number, slice: ImageSlice): void {
  gpu.write(buffer, row0 * L.chunks * 16, slice.data);
  if (slice.scales) gpu.write(buffer, L.scaleOffset + row0 * L.blocks * 4, slice.scales);
}

/** A weight from bytes already in memory. */
export function tensorFromBytes(gpu: Gpu, name: string, dtype: StoredWeightDType, shape: number[], bytes: Uint8Array, quant?: QuantFormat): Promise<GpuTensor> {
  return uploadTensor(gpu, name, dtype, shape, async (o, n) => bytes.subarray(o, o + n), quant);
}

export function destroyTensor(t: GpuTensor): void {
  for (const p of t.parts) p.buffer.destroy();
}
