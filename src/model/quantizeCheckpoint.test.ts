import { describe, expect, it } from 'vitest';
import { openCheckpoint, readQuantizedRows } from './checkpoint';
import { makeDefaultModel } from './defaultModel';
import { decode, type StoredDType } from './dtype';
import { isQuantized, quantize } from './quantize';
import { memorySink, quantizeCheckpoint, quantizeInMemory } from './quantizeCheckpoint';
import { INDEX_FILE } from './safetensors';
import { memorySource } from './source';

const original = () => openCheckpoint(memorySource('default', makeDefaultModel()));
const configOf = () => JSON.parse(makeDefaultModel()['config.json'] as string) as Record<string, unknown>;

describe('quantizeCheckpoint', () => {
  for (const format of ['int8', 'int4'] as const)
    it(`${format}: every matrix isQuantized names becomes its quantize() blocks; the rest is copied byte for byte`, async () => {
      const src = await original();
      const files = await quantizeInMemory(src, configOf(), format);
      const q = await openCheckpoint(memorySource('q', files));
      expect(q.config.quantization).toBe(format);
      const names = [...src.tensors.keys()].filter((n) => isQuantized(n));
      expect(names.length).toBeGreaterThan(0);
      expect([...q.quantized.keys()].sort()).toEqual(names.sort());
      for (const [name, t] of src.tensors) {
        const raw = await src.read(name, 0, t.byteLength);
        if (!isQuantized(name)) {
          expect(Array.from(await q.read(name, 0, t.byteLength)), name).toEqual(Array.from(raw));
          continue;
        }
        const [rows, k] = t.shape;
        const want = quantize(decode(raw, t.dtype as StoredDType), rows, k, format, name);
        const got = await readQuantizedRows(q, q.quantized.get(name)!, 0, rows);
        expect(Array.from(got.data), name).toEqual(Array.from(want.data));
        expect(Array.from(got.scales), name).toEqual(Array.from(want.scales));
      }
    });

  it('shards by size, with an index, and keeps data and scales of a matrix together', async () => {
    const sink = memorySink();
    const files = sink.files;
    const r = await quantizeCheckpoint(await original(), configOf(), 'int4', sink, { shardBytes: 20_000 });
    expect(r.files.length).toBeGreaterThan(3);
    expect(r.files.at(-1)).toBe(INDEX_FILE);
    const index = JSON.parse(new TextDecoder().decode(files.get(INDEX_FILE)));
    for (const [name, shard] of Object.entries(index.weight_map)) if (name.endsWith('.qweight')) expect(index.weight_map[name.replace('.qweight', '.scales')]).toBe(shard);
    const q = await openCheckpoint(memorySource('sharded', { ...Object.fromEntries(files), 'config.json': JSON.stringify(r.config) }));
    expect(q.quantized.size).toBeGreaterThan(0);
  });

  it('refuses an int8 value of -128 in stored data, naming the tensor, row and element', async () => {
    const files = await quantizeInMemory(await original(), configOf(), 'int8');
    const q = await openCheckpoint(memorySource('q', files));
    const [name, info] = [...q.quantized][0];
    const bytes = files['model.safetensors'] as Uint8Array;
    bytes[info.data.offset + info.data.shape[1] + 2] = 0x80; // row 1, element 2
    await expect(readQuantizedRows(q, info, 0, info.shape[0])).rejects.toThrow(`${info.data.name}: row 1, element 2 is -128`);
    expect(name).toMatch(/\.weight$/);
  });

  it('refuses a checkpoint that is already quantized', async () => {
    const q = await openCheckpoint(memorySource('q', await quantizeInMemory(await original(), configOf(), 'int4')));
    await expect(quantizeInMemory(q, configOf(), 'int8')).rejects.toThrow(/already quantized \(int4\)/);
  });
});
