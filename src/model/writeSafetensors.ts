/** In-memory safetensors writers: the default-model generator, and hostile files for tests. */
import { DTYPE_BYTES, type DType } from './safetensors';

export interface TensorData {
  dtype: DType;
  shape: number[];
  data: Uint8Array;
}

/** A file with the given header JSON (used as is: hostile headers are the point) followed by `data`. */
export function writeRawSafetensors(headerJson: string, data: Uint8Array = new Uint8Array(0), headerLength?: number): Uint8Array {
  const h = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/**
 * Like the reference writer: larger dtypes first, then by name, so every tensor is aligned to its
 * element size; the header is space-padded to a multiple of 8 bytes.
 */
export function writeSafetensors(tensors: Record<string, TensorData>, metadata?: Record<string, string>): Uint8Array {
  const items = Object.entries(tensors).sort(([a, ta], [b, tb]) => DTYPE_BYTES[tb.dtype] - DTYPE_BYTES[ta.dtype] || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, t] of items) {
    const n = t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
    if (n !== t.data.length) throw new Error(`writeSafetensors: ${name} has ${t.data.length} bytes, shape needs ${n}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  if (metadata) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const data = new Uint8Array(off);
  off = 0;
  for (const [, t] of items) {
    data.set(t.data, off);
    off += t.data.length;
  }
  return writeRawSafetensors(json, data);
}

/** Zero-filled tensors of the given shapes, e.g. from expectedTensors(config). */
export function zeroTensors(shapes: Map<string, { shape: number[] }>, dtype: DType = 'F32'): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [name, { shape }] of shapes) {
    out[name] = { dtype, shape, data: new Uint8Array(shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[dtype]) };
  }
  return out;
}
