import { describe, expect, it } from 'vitest';
import { encode } from '../model/dtype';
import { quantize, quantRow } from '../model/quantize';
import { imageLayout, imageSlice, quantizedSlice } from './weightImage';

// Where word w of row r lands in an image of `words` words a row (whole 16-byte chunks), T rows a tile:
// the layout's formula, written out here independently of the tiling code.
function wordPosition(r: number, w: number, rows: number, words: number, T: number): number {
  const t0 = Math.floor(r / T) * T;
  const tr = Math.min(T, rows - t0);
  return (t0 * (words / 4) + Math.floor(w / 4) * tr + (r - t0)) * 4 + (w % 4);
}

describe('weight image (tiled layout)', () => {
  for (const T of [64, 1])
    it(`f32, tiles of ${T}: chunk j of every row of a tile, then chunk j + 1; a short last tile; zero padding`, () => {
      const [rows, k] = [64 + 3, 10];
      const values = Float32Array.from({ length: rows * k }, (_, i) => i + 1);
      const image = new Float32Array(imageSlice(encode(values, 'F32'), 'f32', rows, k, undefined, 't', T).data.slice().buffer);
      expect(image.length).toBe(rows * 3 * 4);
      for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) expect(image[wordPosition(r, c, rows, 12, T)]).toBe(values[r * k + c]);
      expect(image.filter((v) => v === 0).length).toBe(rows * 2); // 12 slots a row for 10 elements
    });

  it('f16 rows of odd length start on a chunk each', () => {
    const [rows, k] = [3, 9];
    const bytes = encode(Float32Array.from({ length: rows * k }, (_, i) => i), 'F16');
    const halves = new Uint16Array(imageSlice(bytes, 'f16', rows, k, undefined, 't', 64).data.slice().buffer);
    const src = new Uint16Array(bytes.slice().buffer);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < k; c++) expect(halves[wordPosition(r, c >> 1, rows, 8, 64) * 2 + (c & 1)]).toBe(src[r * k + c]);
  });

  for (const T of [64, 1])
    it(`quantized, tiles of ${T}: data chunks and block scales tiled alike, scales after 256-byte aligned data`, () => {
      const [rows, k] = [64 + 1, 40];
      const values = Float32Array.from({ length: rows * k }, (_, i) => Math.sin(i));
      for (const format of ['int8', 'int4'] as const) {
        const q = quantize(values, rows, k, format, 't');
        const R = quantRow(format, k);
        const L = imageLayout(format, rows, k);
        expect(L.scaleOffset % 256).toBe(0);
        expect(L.bytes).toBe(L.scaleOffset + rows * R.blocks * 4);
        const s = quantizedSlice(q, format, rows, k, T);
        const data = new Uint32Array(s.data.slice().buffer);
        const scales = new Uint32Array(s.scales!.slice().buffer);
        for (const r of [0, 5, 63, 64]) {
          const t0 = Math.floor(r / T) * T;
          const tr = Math.min(T, rows - t0);
          // words past the last chunk hold only padding, and the image leaves them out
          for (let w = 0; w < Math.min(R.words, L.chunks * 4); w++) expect(data[wordPosition(r, w, rows, L.chunks * 4, T)]).toBe(q.data[r * R.words + w]);
          for (let b = 0; b < R.blocks; b++) expect(scales[t0 * R.blocks + b * tr + (r - t0)]).toBe(q.scales[r * R.blocks + b]);
        }
      }
    });

  it('row-major (tiles of 1) with whole chunks a row: the image is the quantized data itself', () => {
    const [rows, k] = [3, 64];
    const q = quantize(Float32Array.from({ length: rows * k }, (_, i) => Math.cos(i)), rows, k, 'int8', 't');
    const s = quantizedSlice(q, 'int8', rows, k, 1);
    expect(Array.from(new Uint32Array(s.data.slice().buffer))).toEqual(Array.from(q.data));
    expect(Array.from(new Uint32Array(s.scales!.slice().buffer))).toEqual(Array.from(q.scales));
  });
});
