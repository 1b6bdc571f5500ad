/**
 * Block quantization of weight matrices along their input dimension (k):
 * - int8: blocks of 32, symmetric, q ∈ [-127, 127], w ≈ q·s, one f16 scale per block (8.5 bits a weight);
 * - int4: blocks of 16, asymmetric, q ∈ [0, 15], w ≈ q·s + m, an f16 scale and an f16 minimum per block
 *   (6 bits a weight). Measured on stories260k and tiny-hybrid-stories (src/engine/quantized.browser.test.ts):
 *   with blocks of 32 an unseen text's perplexity rose by up to 25%, with 16 by at most 6.4%.
 *
 * Row-major form of a [rows, k] matrix (B the block size, kp = k rounded up to B, so rows are whole
 * blocks); it is what a pre-quantized checkpoint stores, and src/gpu/weightImage.ts tiles it for the GPU:
 *   data:   rows × kp/4 u32 words (int8: element c of a row in byte c%4 of word c/4, two's complement)
 *           or rows × kp/8 words (int4: of the 8 elements of word c/8, the first 4 in the low nibbles of
 *           its bytes, the last 4 in the high ones: element c at bit 8·(c%4) + 4·((c%8)/4), so that two
 *           masks give two runs of 4 elements as bytes, which GPUs widen in one instruction)
 *   scales: rows × kp/B u32 words, each pack2x16float(s, m) (m = 0 for int8)
 * Padding elements (c ≥ k) are q = 0 and never read by the kernels.
 */
import { fromF16Bits, toF16Bits } from './dtype';

export type QuantFormat = 'int8' | 'int4';
/** Elements per block along k. */
export const QUANT_BLOCK: Record<QuantFormat, number> = { int8: 32, int4: 16 };

export const isQuantFormat = (f: unknown): f is QuantFormat => typeof f === 'string' && Object.hasOwn(QUANT_BLOCK, f);

/** Sizes of one row of a quantized [rows, k] matrix. */
export function quantRow(format: QuantFormat, k: number): { words: number; blocks: number } {
  const blocks = Math.ceil(k / QUANT_BLOCK[format]);
  return { blocks, words: (blocks * QUANT_BLOCK[format]) / (format === 'int8' ? 4 : 8) };
}

/** A quantized matrix in row-major form. */
export interface QuantBlocks {
  data: Uint32Array;
  scales: Uint32Array;
}

const f16 = (x: number) => fromF16Bits(toF16Bits(x));

/** Bit position of int4 element c in its word. */
const int4Shift = (c: number) => 8 * (c & 3) + 4 * ((c >> 2) & 1);

/**
 * Quantizes `rows` rows of a [rows, k] matrix given as f32 values. `name` is for the error a
 * non-finite weight or a scale beyond f16's range gives.
 */
export function quantize(values: Float32Array, rows: number, k: number, format: QuantFormat, name: string): QuantBlocks {
  const R = quantRow(format, k);
  const data = new Uint32Array(rows * R.words);
  const scales = new Uint32Array(rows * R.blocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < R.blocks; b++) {
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
      scales[r * R.blocks + b] = toF16Bits(s) | (toF16Bits(m) << 16);
      for (let c = c0; c < c1; c++) {
        const v = values[r * k + c];
        const word = r * R.words + (format === 'int8' ? c >> 2 : c >> 3);
        if (format === 'int8') {
          const q = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(v / s)));
          data[word] |= (q & 0xff) << (8 * (c & 3));
        } else {
          const q = s === 0 ? 0 : Math.max(0, Math.min(15, Math.round((v - m) / s)));
          data[word] |= q << int4Shift(c);
        }
      }
    }
  }
  return { data, scales };
}

/** The values a quantized matrix stands for, [rows, k] (the kernels' view; the tests' reference). */
export function dequantize({ data, scales }: QuantBlocks, rows: number, k: number, format: QuantFormat): Float32Array {
  const R = quantRow(format, k);
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < k; c++) {
      const sw = scales[r * R.blocks + Math.floor(c / QUANT_BLOCK[format])];
      const s = fromF16Bits(sw & 0xffff);
      const m = fromF16Bits(sw >>> 16);
      const word = data[r * R.words + (format === 'int8' ? c >> 2 : c >> 3)];
      const q = format === 'int8' ? ((word >>> (8 * (c & 3))) << 24) >> 24 : (word >>> int4Shift(c)) & 15;
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
