/**
 * A checkpoint's matrices as GPU images, whether it stores them as floats (tiled, and quantized on the
 * way when asked) or pre-quantized by lightmoe quantize (tiled as they are); and several matrices of
 * one input stacked into one (softmax attention's q, k and v: one dispatch instead of three).
 */
import { readQuantizedRows, type Checkpoint } from '../model/checkpoint';
import { decode, encode, type StoredDType } from '../model/dtype';
import { quantRow, type QuantBlocks, type QuantFormat } from '../model/quantize';
import type { Gpu } from '../gpu/gpu';
import { uploadMatrix, WEIGHT_BYTES, type GpuTensor, type StoredWeightDType, type WeightDType } from '../gpu/tensor';
import { imageSlice, quantizedSlice, type ImageSlice } from '../gpu/weightImage';

/** Rows of a matrix as the checkpoint holds them: raw float bytes (to quantize to `quant`, if given), or quantized blocks. */
export type MatrixRows = { raw: Uint8Array; dtype: StoredWeightDType; quant?: QuantFormat } | { blocks: QuantBlocks; format: QuantFormat };

export interface StoredMatrix {
  name: string;
  /** The format on the GPU. */
  format: WeightDType;
  shape: [rows: number, k: number];
  /** Bytes the checkpoint holds for it, and for one row. */
  bytes: number;
  rowBytes: number;
  /** Rows r0 .. r0 + n, in row-major order. */
  rows(r0: number, n: number): Promise<MatrixRows>;
}

/** Matrix `name` (a `.weight` of expectedTensors) of `ckpt`; float matrices are quantized to `quant` if given. */
export function storedMatrix(ckpt: Checkpoint, name: string, quant?: QuantFormat): StoredMatrix {
  const q = ckpt.quantized.get(name);
  if (q) {
    const R = quantRow(q.format, q.shape[1]);
    return {
      name,
      format: q.format,
      shape: q.shape,
      bytes: q.data.byteLength + q.scales.byteLength,
      rowBytes: (R.words + R.blocks) * 4,
      rows: async (r0, n) => ({ blocks: await readQuantizedRows(ckpt, q, r0, n), format: q.format }),
    };
  }
  const info = ckpt.tensors.get(name);
  if (!info || info.shape.length !== 2) throw new Error(`${ckpt.name}: no matrix ${name}`); // checkTensors has named it
  const dtype = info.dtype.toLowerCase() as StoredWeightDType;
  const [rows, k] = info.shape;
  const rawRow = k * WEIGHT_BYTES[dtype];
  return {
    name,
    format: quant ?? dtype,
    shape: [rows, k],
    bytes: info.byteLength,
    rowBytes: rawRow,
    rows: async (r0, n) => ({ raw: await ckpt.read(name, r0 * rawRow, n * rawRow), dtype, quant }),
  };
}

/** The GPU image of n rows of a matrix of k columns. */
export function imageOf(rows: MatrixRows, n: number, k: number, tileRows: number, name: string): ImageSlice {
  if ('blocks' in rows) return quantizedSlice(rows.blocks, rows.format, n, k, tileRows);
  return imageSlice(rows.raw, rows.dtype, n, k, rows.quant, name, tileRows);
}

/** A float matrix widened to f32 (exact), for stacking it with matrices stored in another float format. */
function widened(m: StoredMatrix): StoredMatrix {
  if (m.format === 'f32') return m;
  return {
    ...m,
    format: 'f32',
    rowBytes: m.shape[1] * 4,
    async rows(r0, n) {
      const r = await m.rows(r0, n);
      if ('blocks' in r || r.quant) throw new Error(`${m.name}: a quantized matrix cannot be widened`);
      return { raw: encode(decode(r.raw, r.dtype.toUpperCase() as StoredDType), 'F32'), dtype: 'f32' };
    },
  };
}

/**
 * Matrices of one width, their rows one after another: in their common format, float ones of
 * different formats widened to f32.
 */
export function stackMatrices(name: string, matrices: StoredMatrix[]): StoredMatrix {
  const mixed = matrices.some((m) => m.format !== matrices[0].format);
  const parts = mixed && matrices.every((m) => m.format === 'f32' || m.format === 'f16' || m.format === 'bf16') ? matrices.map(widened) : matrices;
  const [first] = parts;
  for (const m of parts)
    if (m.format !== first.format || m.shape[1] !== first.shape[1] || m.rowBytes !== first.rowBytes)
      throw new Error(`${m.name}: format ${m.format} or width ${m.shape[1]} differs from ${first.name}'s: they cannot be stacked`);
  const starts = parts.map((_, i) => parts.slice(0, i).reduce((s, m) => s + m.shape[0], 0));
  const total = parts.reduce((s, m) => s + m.shape[0], 0);
  return {
    name,
    format: first.format,
    shape: [total, first.shape[1]],
    bytes: parts.reduce((s, m) => s + m.bytes, 0),
    rowBytes: first.rowBytes,
    async rows(r0, n) {
      const got = await Promise.all(
        parts.flatMap((m, i) => {
          const lo = Math.max(r0, starts[i]);
          const hi = Math.min(r0 + n, starts[i] + m.shape[0]);
          return hi > lo ? [m.rows(lo - starts[i], hi - lo)] : [];
        }),
      );
      return concatRows(got);
    },
  };
}

function concatRows(rows: MatrixRows[]): MatrixRows {
  if (rows.length === 1) return rows[0];
  const cat = <T extends Uint8Array | Uint32Array>(arrays: T[], make: (n: number) => T): T => {
    const out = make(arrays.reduce((s, a) => s + a.length, 0));
    let o = 0;
    for (const a of arrays) out.set(a, (o += a.length) - a.length);
    return out;
  };
  const [first] = rows;
  if ('blocks' in first) {
    const all = rows as Extract<MatrixRows, { blocks: QuantBlocks }>[];
    return { format: first.format, blocks: { data: cat(all.map((r) => r.blocks.data), (n) => new Uint32Array(n)), scales: cat(all.map((r) => r.blocks.scales), (n) => new Uint32Array(n)) } };
  }
  const all = rows as Extract<MatrixRows, { raw: Uint8Array }>[];
  return { ...first, raw: cat(all.map((r) => r.raw), (n) => new Uint8Array(n)) };
}

/** Uploads a stored (or stacked) matrix. */
export function uploadStoredMatrix(gpu: Gpu, m: StoredMatrix): Promise<GpuTensor> {
  const T = gpu.choices.tileRows;
  return uploadMatrix(gpu, m.name, m.format, m.shape, m.rowBytes, async (r0, n) => imageOf(await m.rows(r0, n), n, m.shape[1], T, m.name));
}
