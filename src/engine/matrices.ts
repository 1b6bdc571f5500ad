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
  /** The format on the GPU, and the one the checkpoint holds. */
  format: WeightDType;
  stored: WeightDType;
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
      stored: q.format,
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
    stored: dtype,
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

/** A float matrix read as f32 (exact), still quantized on the way if it was to be. */
function widened(m: StoredMatrix): StoredMatrix {
  if (m.stored === 'f32') return m;
  return {
    ...m,
    format: m.format === m.stored ? 'f32' : m.format,
    stored: 'f32',
    rowBytes: m.shape[1] * 4,
    async rows(r0, n) {
      const r = (await m.rows(r0, n)) as Extract<MatrixRows, { raw: Uint8Array }>;
      return { raw: encode(decode(r.raw, r.dtype.toUpperCase() as StoredDType), 'F32'), dtype: 'f32', quant: r.quant };
    },
  };
}

/**
 * Matrices of one width, their rows one after another, in their common format. Float matrices stored
 * in different formats are read as f32 (and quantized alike if they are to be); a matrix stored
 * quantized stacks only with matrices stored the same way.
 */
export function stackMatrices(name: string, matrices: StoredMatrix[]): StoredMatrix {
  const isFloat = (f: WeightDType) => f === 'f32' || f === 'f16' || f === 'bf16';
  const same = matrices.every((m) => m.stored === matrices[0].stored && m.format === matrices[0].format);
  const parts = !same && matrices.every((m) => isFloat(m.stored) && m.format === (isFloat(m.format) ? m.format : matrices[0].format)) ? matrices.map(widened) : matrices;
  const [first] = parts;
  for (const m of parts)
    if (m.format !== first.format || m.stored !== first.stored || m.shape[1] !== first.shape[1])
      throw new Error(`${m.name}: stored as ${m.stored} (${m.format} on the GPU), width ${m.shape[1]}: it cannot be stacked with ${first.name} (${first.stored}, ${first.format}, width ${first.shape[1]})`);
  const starts = parts.map((_, i) => parts.slice(0, i).reduce((s, m) => s + m.shape[0], 0));
  const total = parts.reduce((s, m) => s + m.shape[0], 0);
  return {
    name,
    format: first.format,
    stored: first.stored,
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
