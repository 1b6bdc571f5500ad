/**
 * Block quantization of weight matrices along their input dimension (k):
 * - int8: blocks of 32, symmetric, q ∈ [-127, 127], w ≈ q·s, one f16 scale per block (8.5 bits a weight);
 * - int4: blocks of 16, asymmetric, q ∈ [0, 15], w ≈ q·s + m, an f16 scale and an f16 minimum per block
 *   (6 bits a weight). Measured on stories260k and tiny-hybrid-stories (src/engine/quantized.browser.test.ts):
 *   with blocks of 32 an unseen text's perplexity rose by up to 25%, with 16 by at most 6.4%.
 *
 * GPU layout of a [rows, k] matrix (B the block size, kp = k rounded up to B, so rows are whole blocks):
 *   data:   rows × kp/4 words (int8: element c of a row in byte c%4 of word c/4, two's complement)
 *           or rows × kp/8 words (int4: element c in bits 4·(c%8) .. of word c/8)
 *   pad:    zero words up to a multiple of 256 bytes (the scales are bound at that offset)
 *   scales: rows × kp/B words, each pack2x16float(s, m) (m = 0 for int8)
 * Padding elements (c ≥ k) are 0 and never read by the kernels.
 */
import { fromF16Bits, toF16Bits } from './dtype';

export type QuantFormat = 'int8' | 'int4';
/** Elements per block along k. */
export const QUANT_BLOCK: Record<QuantFormat, number> = { int8: 32, int4: 16 };

export interface QuantLayout {
  /** u32 words of data per row. */
  rowWords: number;
  /** Blocks (and scale words) per row. */
  blocks: number;
  /** Byte offset of the scales in a buffer of `rows` rows. */
  scaleOffset(rows: number): number;
  /** Bytes of a buffer of `rows` rows. */
  bytes(rows: number): number;
}

export function quantLayout(format: QuantFormat, k: number): QuantLayout {
  const blocks = Math.ceil(k / QUANT_BLOCK[format]);
  const rowWords = (blocks * QUANT_BLOCK[format]) / (format === 'int8' ? 4 : 8);
  const scaleOffset = (rows: number) => Math.ceil((rows * rowWords * 4) / 256) * 256;
  return { rowWords, blocks, scaleOffset, bytes: (rows) => scaleOffset(rows) + rows * blocks * 4 };
}

const f16 = (x: number) => fromF16Bits(toF16Bits(x));

/**
 * The GPU image of `rows` rows of a [rows, k] matrix given as f32 values. `name` is for the error a
 * non-finite weight or a scale beyond f16's range gives.
 */
export function quantize(values: Float32Array, rows: number, k: number, format: QuantFormat, name: string): Uint8Array {
  const L = quantLayout(format, k);
  const out = new Uint8Array(L.bytes(rows));
  const data = new Uint32Array(out.buffer, 0, rows * L.rowWords);
  const scales = new Uint32Array(out.buffer, L.scaleOffset(rows), rows * L.blocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < L.blocks; b++) {
      const c0 = b * QUANT_BLOCK[format];
      const c1 = Math.min(c0 + QUANT_BLOCK[format], k);
      let lo = Infinity;
      let hi = -Infinity;
      for (let c = c0; c < c1; c++) {
        const v = values[r * k + c];
        if (!Number.isFinite(v)) throw new Error(`${name}: weight [${r}, ${c}] is ${v}: cannot quantize to ${format}`);
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      let s: number;
      let m = 0;
      if (format === 'int8') s = f16(Math.max(Math.abs(lo), Math.abs(hi)) / 127);
      else {
        m = f16(lo);
        s = f16((hi - m) / 15);
      }
      if (!Number.isFinite(s) || !Number.isFinite(m)) throw new Error(`${name}: row ${r} block ${b}: the ${format} scale of [${lo}, ${hi}] exceeds f16's range`);
      scales[r * L.blocks + b] = toF16Bits(s) | (toF16Bits(m) << 16);
      for (let c = c0; c < c1; c++) {
        const v = values[r * k + c];
        const word = r * L.rowWords + (format === 'int8' ? c >> 2 : c >> 3);
        if (format === 'int8') {
          const q = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(v / s)));
          data[word] |= (q & 0xff) << (8 * (c & 3));
        } else {
          const q = s === 0 ? 0 : Math.max(0, Math.min(15, Math.round((v - m) / s)));
          data[word] |= q << (4 * (c & 7));
        }
      }
    }
  }
  return out;
}

/** The values a quantized image stands for, [rows, k] (the kernels' view; the tests' reference). */
export function dequantize(image: Uint8Array, rows: number, k: number, format: QuantFormat): Float32Array {
  const L = quantLayout(format, k);
  const copy = image.slice(0, L.bytes(rows));
  const data = new Uint32Array(copy.buffer, 0, rows * L.rowWords);
  const scales = new Uint32Array(copy.buffer, L.scaleOffset(rows), rows * L.blocks);
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < k; c++) {
      const sw = scales[r * L.blocks + Math.floor(c / QUANT_BLOCK[format])];
      const s = fromF16Bits(sw & 0xffff);
      const m = fromF16Bits(sw >>> 16);
      const word = data[r * L.rowWords + (format === 'int8' ? c >> 2 : c >> 3)];
      const q = format === 'int8' ? ((word >>> (8 * (c & 3))) << 24) >> 24 : (word >>> (4 * (c & 7))) & 15;
      out[r * k + c] = q * s + m;
    }
  return out;
}

/**
 * The tensors a quantized model quantizes: attention projections, routed and shared experts (nearly
 * all of an M1-class model's bytes). Kept as stored: norms (vectors), router gates (small, and top-k
 * routing flips on small errors), the shared-expert coefficient (one row), and the embedding and
 * lm_head: quantizing stories260k's tied embedding to int4 raised an unseen text's perplexity by 25%,
 * and an embedding is read one row per token. (The kernels read int8/int4 embeddings all the same.)
 */
export function isQuantized(name: string): boolean {
  return /\.self_attn\.(qkv_proj|output_gate|out_proj|[qkvo]_proj)\.weight$|\.experts\.\d+\.w[123]\.weight$|\.shared_mlp\.(gate|up|down)_proj\.weight$/.test(name);
}
