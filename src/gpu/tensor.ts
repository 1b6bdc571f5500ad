import type { Gpu } from './gpu';

/** Stored weight formats. They stay packed on the GPU and are widened to f32 by the shaders. */
export type WeightDType = 'f32' | 'f16' | 'bf16';
export const WDTYPE: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 2 };
export const WEIGHT_BYTES: Record<WeightDType, number> = { f32: 4, f16: 2, bf16: 2 };

/** Rows row0 .. row0+rows of a weight matrix, in a buffer of their own. */
export interface TensorPart {
  buffer: GPUBuffer;
  row0: number;
  rows: number;
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

/** Uploads a weight whose raw bytes `read(byteOffset, byteLength)` returns, part by part, in chunks. */
export async function uploadTensor(
  gpu: Gpu,
  name: string,
  dtype: WeightDType,
  shape: number[],
  read: (byteOffset: number, byteLength: number) => Promise<Uint8Array>,
): Promise<GpuTensor> {
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

/** A weight from bytes already in memory. */
export function tensorFromBytes(gpu: Gpu, name: string, dtype: WeightDType, shape: number[], bytes: Uint8Array): Promise<GpuTensor> {
  return uploadTensor(gpu, name, dtype, shape, async (o, n) => bytes.subarray(o, o + n));
}

export function destroyTensor(t: GpuTensor): void {
  for (const p of t.parts) p.buffer.destroy();
}
