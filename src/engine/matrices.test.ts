import { describe, expect, it } from 'vitest';
import { decode, encode, type StoredDType } from '../model/dtype';
import { stackMatrices, type StoredMatrix } from './matrices';

/** A float matrix held in memory as `dtype`, to be quantized to `quant` if given. */
function floatMatrix(name: string, dtype: 'f32' | 'f16' | 'bf16', values: Float32Array, rows: number, quant?: 'int8' | 'int4'): StoredMatrix {
  const k = values.length / rows;
  const DT = dtype.toUpperCase() as StoredDType;
  const raw = encode(values, DT);
  const width = raw.length / values.length;
  return {
    name,
    format: quant ?? dtype,
    stored: dtype,
    shape: [rows, k],
    bytes: raw.length,
    rowBytes: k * width,
    rows: async (r0, n) => ({ raw: raw.slice(r0 * k * width, (r0 + n) * k * width), dtype, quant }),
  };
}

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * 3.3);

describe('stackMatrices', () => {
  it('stacks rows in order, across the parts a read spans', async () => {
    const [a, b] = [values(2 * 5, 1), values(3 * 5, 2)];
    const s = stackMatrices('qkv', [floatMatrix('a', 'f32', a, 2), floatMatrix('b', 'f32', b, 3)]);
    expect([s.shape, s.format]).toEqual([[5, 5], 'f32']);
    const r = (await s.rows(1, 3)) as { raw: Uint8Array };
    expect(Array.from(decode(r.raw, 'F32'))).toEqual([...a.slice(5), ...b.slice(0, 10)]);
  });

  it('reads float matrices stored in different formats as f32, exactly, quantized alike when asked', async () => {
    const [a, b] = [values(2 * 4, 3), values(2 * 4, 4)];
    for (const quant of [undefined, 'int8'] as const) {
      const s = stackMatrices('qkv', [floatMatrix('q', 'bf16', a, 2, quant), floatMatrix('k', 'f16', b, 2, quant)]);
      expect(s.format).toBe(quant ?? 'f32');
      const r = (await s.rows(0, 4)) as { raw: Uint8Array; dtype: string; quant?: string };
      expect([r.dtype, r.quant]).toEqual(['f32', quant]);
      expect(Array.from(decode(r.raw, 'F32'))).toEqual([...decode(encode(a, 'BF16'), 'BF16'), ...decode(encode(b, 'F16'), 'F16')]);
    }
  });

  it('refuses a pre-quantized matrix beside a float one, naming both', () => {
    const q: StoredMatrix = { ...floatMatrix('q', 'f32', values(8, 5), 2), format: 'int4', stored: 'int4' };
    expect(() => stackMatrices('qkv', [q, floatMatrix('k', 'f32', values(8, 6), 2)])).toThrow(/k: stored as f32 .* cannot be stacked with q \(int4, int4/);
  });
});
