import { afterEach, expect, it } from 'vitest';
import { sharedJson, sharedSource } from '../engine/fixtures';
import { Model } from '../engine/model';
import { requestGpuDevice } from '../gpu/device';
import { openCheckpoint } from '../model/checkpoint';
import { quantizeInMemory } from '../model/quantizeCheckpoint';
import { memorySource, readJson } from '../model/source';
import { manifestKey, store, type Manifest } from './db';
import { get } from 'idb-keyval';
import { deleteModel, downloadModel, listModels, openStoredCheckpoint } from './modelStore';
import { memoryFetch } from './testFetch';

const DIR = 'models/tiny-hybrid-stories';

afterEach(async () => {
  for (const m of await listModels()) await deleteModel(m.id);
});

/** tiny-hybrid-stories quantized to int4 as `lightmoe quantize` writes it, built here in memory. */
async function quantizedFolder(): Promise<Record<string, Uint8Array | string>> {
  const source = sharedSource(DIR);
  const out = await quantizeInMemory(await openCheckpoint(source), (await readJson(source, 'config.json')) as Record<string, unknown>, 'int4');
  for (const f of ['generation_config.json', 'tokenizer.json']) out[f] = (await source.readText(f))!;
  return out;
}

it('a pre-quantized int4 folder: stored in IndexedDB as int4 records (an expert\'s 5× smaller), it gives the logits of quantize-on-load, resident and streamed', async () => {
  const expected = await sharedJson(`${DIR}/expected.json`);
  const p = expected.dtypes.float32.prompts[2];
  const ids = [...p.input_ids, ...p.greedy_ids.slice(0, 10)];
  const device = () => requestGpuDevice();
  const onLoad = await Model.load(sharedSource(DIR), await device(), { quantize: 'int4' });
  const want = Array.from(await onLoad.forward(ids, 'all'));
  onLoad.destroy();

  const folder = await quantizedFolder();
  const fromMemory = await Model.load(memorySource('int4', folder), await device());
  expect(Array.from(await fromMemory.forward(ids, 'all'))).toEqual(want);
  fromMemory.destroy();

  const base = 'http://models.test/tiny-hybrid-int4/';
  await downloadModel(base, { fetch: memoryFetch(base, folder, { ranges: true }).fetch });
  const m = (await get<Manifest>(manifestKey(base), store))!;
  const expertRecords = m.records.filter((r) => r.kind === 'expert');
  expect(expertRecords).toHaveLength(8 * 8);
  const floatExpert = 3 * 128 * 256 * 4; // w1, w3, w2 of tiny-hybrid-stories in f32
  expect(expertRecords.every((r) => r.size * 5 < floatExpert)).toBe(true);
  expect(Object.keys(m.tensors).filter((n) => n.endsWith('.qweight')).length).toBeGreaterThan(64 * 3);

  const stored = await openStoredCheckpoint(base);
  expect(stored.quantized.size).toBe(Object.keys(m.tensors).filter((n) => n.endsWith('.qweight')).length);
  for (const opts of [{}, { expertBudget: 0.5 }]) {
    const model = await Model.fromCheckpoint(stored, await device(), opts);
    expect(Array.from(await model.forward(ids, 'all'))).toEqual(want);
    model.destroy();
  }
});
