/**
 * The GPU image of a [rows, k] weight matrix, tiled so that the invocations of a workgroup, which own
 * neighbouring rows, read neighbouring chunks on a GPU (coalesced), while on a CPU adapter each
 * invocation streams its own rows.
 *
 * A row is cut into `chunks` chunks of 16 bytes (f32: 4 elements, f16/bf16: 8, int8: 16, int4: 32;
 * elements in their row-major order, the last chunk zero-padded). Rows go in tiles of T rows (T from
 * the adapter: Gpu.tileRows, 64 on GPUs, 1 on CPU adapters, where the image is plain row-major; the last
 * tile of a part may be shorter, tr rows); within a tile, chunk j of every row comes before chunk j + 1:
 *   chunk (r, j) at 16-byte index  t0·chunks + j·tr + (r − t0)      (t0 = r rounded down to T)
 * Quantized formats then pad to 256 bytes (the scales are bound at that offset) and tile their block
 * scales the same way, one u32 word a block: scale (r, b) at word t0·blocks + b·tr + (r − t0).
 * shaders/weights.wgsl reads this layout; vectors (norms) stay flat.
 */
import { decode, type StoredDType } from '../model/dtype';
import { isQuantFormat, quantize, quantRow, type QuantBlocks, type QuantFormat } from '../model/quantize';
import type { StoredWeightDType, WeightDType } from './tensor';

/** Elements of each format in one 16-byte chunk. */
export const CHUNK_ELEMENTS: Record<WeightDType, number> = { f32: 4, f16: 8, bf16: 8, int8: 16, int4: 32 };

export interface ImageLayout {
  chunks: number;
  /** Quantization blocks a row (0 for float formats). */
  blocks: number;
  /** Byte offset of the scales (the data's length for float formats). */
  scaleOffset: number;
  bytes: number;
}

export function imageLayout(dtype: WeightDType, rows: number, k: number): ImageLayout {
  const chunks = Math.ceil(k / CHUNK_ELEMENTS[dtype]);
  const data = rows * chunks * 16;
  if (!isQuantFormat(dtype)) return { chunks, blocks: 0, scaleOffset: data, bytes: data };
  const blocks = quantRow(dtype, k).blocks;
  const scaleOffset = Math.ceil(data / 256) * 256;
  return { chunks, blocks, scaleOffset, bytes: scaleOffset + rows * blocks * 4 };
}

/** Bytes one row adds to an image (data and scales), for splitting a matrix into parts. */
export function imageRowBytes(dtype: WeightDType, k: number): number {
  const L = imageLayout(dtype, 1, k);
  return L.chunks * 16 + L.blocks * 4;
}

/**
 * Rows row0 .. row0 + rows of a part's image (row0 a multiple of the tile height, the rows whole tiles or
 * running to the part's end): `data` belongs at byte row0·chunks·16 of the image, `scales` at
 * scaleOffset + row0·blocks·4.
 */
export interface ImageSlice {
  data: Uint8Array;
  scales?: Uint8Array;
}

/** Tiles rows of `units` units of `unit` words each (row-major, `rowWords` words a row apart), T rows a tile. */
function tile(src: Uint32Array, rows: number, rowWords: number, units: number, unit: number, T: number): Uint32Array {
  // Row-major with no padding: the image is the source itself (an M1 expert on a CPU adapter).
  if (T === 1 && rowWords === units * unit && src.length === rows * rowWords) return src;
  const out = new Uint32Array(rows * units * unit);
  // Units wholly inside the row are copied without a bound check (4-word chunks unrolled); the last,
  // padded one word by word.
  // (An int8 row of whole blocks can hold a chunk more than the image: past k, zeros, left out.)
  const whole = Math.min(units, Math.floor(rowWords / unit));
  for (let t0 = 0; t0 < rows; t0 += T) {
    const tr = Math.min(T, rows - t0);
    const base = t0 * units * unit;
    const step = tr * unit;
    for (let l = 0; l < tr; l++) {
      const row = (t0 + l) * rowWords;
      let to = base + l * unit;
      let from = row;
      if (unit === 4)
        for (let j = 0; j < whole; j++, from += 4, to += step) {
          out[to] = src[from];
          out[to + 1] = src[from + 1];
          out[to + 2] = src[from + 2];
          out[to + 3] = src[from + 3];
        }
      else for (let j = 0; j < whole; j++, from += unit, to += step) for (let w = 0; w < unit; w++) out[to + w] = src[from + w];
      for (let w = 0; whole < units && whole * unit + w < rowWords; w++) out[to + w] = src[from + w];
    }
  }
  return out;
}

const bytesOf = (a: Uint32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The image slice of quantized rows in row-major form (a pre-quantized checkpoint, or quantize's output). */
export function quantizedSlice(q: QuantBlocks, format: QuantFormat, rows: number, k: number, tileRows: number): ImageSlice {
  const R = quantRow(format, k);
  const L = imageLayout(format, rows, k);
  return { data: bytesOf(tile(q.data, rows, R.words, L.chunks, 4, tileRows)), scales: bytesOf(tile(q.scales, rows, R.blocks, R.blocks, 1, tileRows)) };
}

/** The image slice of `rows` stored rows (raw checkpoint bytes), quantized on the way with `quant`. */
export function imageSlice(raw: Uint8Array, stored: StoredWeightDType, rows: number, k: number, quant: QuantFormat | undefined, name: string, tileRows: number): ImageSlice {
  if (quant) return quantizedSlice(quantize(decode(raw, stored.toUpperCase() as StoredDType), rows, k, quant, name), quant, rows, k, tileRows);
  const L = imageLayout(stored, rows, k);
  const aligned = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  if (stored === 'f32') return { data: bytesOf(tile(new Uint32Array(aligned.buffer, aligned.byteOffset, rows * k), rows, k, L.chunks, 4, tileRows)) };
  // 2-byte rows need not start on a word: pad each to whole chunks first.
  const src = new Uint16Array(aligned.buffer, aligned.byteOffset, rows * k);
  const padded = new Uint16Array(rows * L.chunks * 8);
  for (let r = 0; r < rows; r++) padded.set(src.subarray(r * k, (r + 1) * k), r * L.chunks * 8);
  return { data: bytesOf(tile(new Uint32Array(padded.buffer), rows, L.chunks * 4, L.chunks, 4, tileRows)) };
}
