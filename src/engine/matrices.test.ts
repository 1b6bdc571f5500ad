import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../model/checkpoint';
import { decode, encode, type StoredDType } from '../model/dtype';
import type { TensorInfo } from '../model/safetensors';
import { stackMatrices, storedMatrix } from './matrices';

/** A checkpoint of [rows, k] matrices held in memory, each in its own float format. */
function checkpoint(matrices: Record<string, { dtype: StoredDType; values: Float32Array; rows: number }>): Checkpoint {
  const tensors = new Map<string, TensorInfo>();
  const bytes = new Map<string, Uint8Array>();
  for (const [name, m] of Object.entries(matrices)) {
    const raw = encode(m.values, m.dtype);
    bytes.set(name, raw);
    tensors.set(name, { name, dtype: m.dtype, shape: [m.rows, m.values.length / m.rows], file: 'memory', offset: 0, byteLength: raw.length });
  }
  return { name: 'memory', config: null as never, tensors, quantized: new Map(), read: async (name, o, n) => bytes.get(name)!.slice(o, o + n) };
}

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * 3.3);

describe('stackMatrices', () => {
  it('stacks rows in order, across the parts a read spans', async () => {
    const [a, b] = [values(2 * 5, 1), values(3 * 5, 2)];
    const ckpt = checkpoint({ a: { dtype: 'F32', values: a, rows: 2 }, b: { dtype: 'F32', values: b, rows: 3 } });
    const s = stackMatrices('qkv', [storedMatrix(ckpt, 'a'), storedMatrix(ckpt, 'b')]);
    expect([s.shape, s.format]).toEqual([[5, 5], 'f32']);
    const r = (await s.rows(1, 3)) as { raw: Uint8Array };
    expect(Array.from(decode(r.raw, 'F32'))).toEqual([...a.slice(5), ...b.slice(0, 10)]);
  });

  it('reads float matrices stored in different formats as f32, exactly, quantized alike when asked', async () => {
    const [a, b] = [values(2 * 4, 3), values(2 * 4, 4)];
    const ckpt = checkpoint({ q: { dtype: 'BF16', values: a, rows: 2 }, k: { dtype: 'F16', values: b, rows: 2 } });
    for (const quant of [undefined, 'int8'] as const) {
      const s = stackMatrices('qkv', [storedMatrix(ckpt, 'q', quant), storedMatrix(ckpt, 'k', quant)]);
      expect(s.format).toBe(quant ?? 'f32');
      const r = (await s.rows(0, 4)) as { raw: Uint8Array; dtype: string; quant?: string };
      expect([r.dtype, r.quant]).toEqual(['f32', quant]);
      expect(Array.from(decode(r.raw, 'F32'))).toEqual([...decode(encode(a, 'BF16'), 'BF16'), ...decode(encode(b, 'F16'), 'F16')]);
    }
  });

  it('refuses a pre-quantized matrix beside a float one, naming both', () => {
    const ckpt = checkpoint({ q: { dtype: 'F32', values: values(8, 5), rows: 2 }, k: { dtype: 'F32', values: values(8, 6), rows: 2 } });
    const q = { ...storedMatrix(ckpt, 'q'), format: 'int4' as const, stored: 'int4' as const };
    expect(() => stackMatrices('qkv', [q, storedMatrix(ckpt, 'k')])).toThrow(/k: stored as f32 .* cannot be stacked with q \(int4, int4/);
  });
});
