import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { get } from 'idb-keyval';
import { sharedBytes, sharedJson, sharedSource, sharedUrl } from '../engine/fixtures';
import { Model } from '../engine/model';
import { requestGpuDevice } from '../gpu/device';
import { expertTensorNames, openCheckpoint, type Checkpoint } from '../model/checkpoint';
import { keysUnder, manifestKey, store, type Manifest } from './db';
import { deleteModel, downloadModel, listModels, modelSize, ModelNotStoredError, openStoredCheckpoint, readStoredText, type DownloadProgress } from './modelStore';
import { bytesEqual, loggingFetch } from './testFetch';

const DIR = 'models/tiny-hybrid-stories';
const URL = sharedUrl(DIR + '/');
const TEXTS = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];
let ref: Checkpoint;
let fileSize: number;

beforeAll(async () => {
  ref = await openCheckpoint(sharedSource(DIR));
  fileSize = (await sharedBytes(`${DIR}/model.safetensors`)).byteLength;
});

afterEach(async () => {
  for (const m of await listModels()) await deleteModel(m.id);
});

/** Dense tensors and every expert of `layer` read back equal to the original file. */
async function expectSameBytes(ckpt: Checkpoint, layer: number) {
  const names = [...ref.tensors.keys()].filter((n) => !n.includes('.experts.'));
  for (let e = 0; e < ref.config.numExperts; e++) names.push(...expertTensorNames(layer, e));
  for (const name of names) {
    const n = ref.tensors.get(name)!.byteLength;
    expect(bytesEqual(await ckpt.read(name, 0, n), await ref.read(name, 0, n)), name).toBe(true);
  }
}

const manifestOf = (id: string) => get<Manifest>(manifestKey(id), store) as Promise<Manifest>;
const weightBytes = () => [...ref.tensors.values()].reduce((s, t) => s + t.byteLength, 0);

describe('the vite test server', () => {
  it('honours Range requests for /@fs/ URLs', async () => {
    const r = await fetch(sharedUrl(`${DIR}/model.safetensors`), { headers: { Range: 'bytes=0-7' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 0-7/${fileSize}`);
    expect((await r.arrayBuffer()).byteLength).toBe(8);
  });
});

describe('downloadModel', () => {
  it('by Range: one record per expert, every byte fetched once, the same bytes read back', async () => {
    const log = loggingFetch();
    const events: DownloadProgress[] = [];
    const t0 = performance.now();
    const info = await downloadModel(URL, { fetch: log.fetch, onProgress: (p) => events.push(p) });
    const t1 = performance.now();
    expect(info).toEqual({ id: URL, url: URL, totalBytes: weightBytes(), storedBytes: weightBytes(), complete: true, records: 65, recordsStored: 65 });

    const st = log.requests.filter((r) => r.url.endsWith('model.safetensors'));
    expect(st.every((r) => r.range !== null && r.status === 206)).toBe(true);
    expect(log.bytesOf('model.safetensors')).toBe(fileSize); // header once, each tensor once

    const m = await manifestOf(URL);
    const experts = m.records.filter((r) => r.kind === 'expert');
    expect(experts).toHaveLength(8 * 8);
    expect(experts[8 * 3 + 5].label).toBe('layer 3 expert 5');
    expect(m.tensors['model.layers.3.block_sparse_moe.experts.5.w2.weight'].parts).toEqual([{ record: m.records.indexOf(experts[8 * 3 + 5]), at: 2 * 128 * 256 * 4, tensorOffset: 0, length: 128 * 256 * 4 }]);
    expect(m.records.every((r) => r.size <= 64 * 2 ** 20)).toBe(true);

    const stores = events.filter((e) => e.phase === 'store');
    expect(stores).toHaveLength(65);
    expect(events.filter((e) => e.phase === 'fetch')).toHaveLength(65);
    expect(events.at(-1)).toMatchObject({ bytes: weightBytes(), total: weightBytes(), fileBytes: weightBytes(), fileTotal: weightBytes(), file: 'model.safetensors', recordsStored: 65, records: 65 });
    expect(events.at(-1)!.bytesPerSecond).toBeGreaterThan(0);

    const t2 = performance.now();
    const ckpt = await openStoredCheckpoint(URL);
    expect(ckpt.config).toEqual(ref.config);
    expect(ckpt.tensors).toEqual(ref.tensors);
    await expectSameBytes(ckpt, 3);
    console.log(`download by Range: ${(t1 - t0).toFixed(0)} ms for ${(fileSize / 2 ** 20).toFixed(1)} MiB (${log.requests.length} requests); open + read back dense and 8 experts: ${(performance.now() - t2).toFixed(0)} ms`);
  });

  it('without Range: one streamed GET, records cut as bytes pass, tensors split across records', async () => {
    const log = loggingFetch({ noRange: true });
    const t0 = performance.now();
    const info = await downloadModel(URL, { id: 'noRange', fetch: log.fetch, recordBytes: 150_000 });
    const t1 = performance.now();
    expect(info.complete).toBe(true);
    // One cancelled GET for the header, one whole-file GET for the data.
    const st = log.requests.filter((r) => r.url.endsWith('model.safetensors'));
    expect(st.map((r) => r.status)).toEqual([200, 200]);
    // The header GET is cancelled after its first megabyte or two (what the counting pipe buffered ahead).
    expect(st[0].bytes).toBeLessThan(fileSize / 4);
    expect(st[1].bytes).toBeLessThanOrEqual(fileSize);

    const m = await manifestOf('noRange');
    expect(m.records.every((r) => r.size <= 150_000)).toBe(true);
    // An expert (393,216 bytes) takes three records here; the embedding (262,144) is split too.
    expect(m.records.filter((r) => r.kind === 'expert')).toHaveLength(8 * 8 * 3);
    expect(m.records.find((r) => r.kind === 'expert')!.label).toBe('layer 0 expert 0 part 1/3');
    expect(m.tensors['model.embed_tokens.weight'].parts.length).toBeGreaterThan(1);

    const ckpt = await openStoredCheckpoint('noRange');
    for (const [name, t] of ref.tensors) expect(bytesEqual(await ckpt.read(name, 0, t.byteLength), await ref.read(name, 0, t.byteLength)), name).toBe(true);
    // A read across a record boundary.
    expect(bytesEqual(await ckpt.read('model.embed_tokens.weight', 100_000, 120_000), await ref.read('model.embed_tokens.weight', 100_000, 120_000))).toBe(true);
    console.log(`download by streaming (150 kB records): ${(t1 - t0).toFixed(0)} ms, ${m.records.length} records`);
  });
});

describe('a stored model', () => {
  it('generates the expected greedy tokens with streamed experts, without the network', async () => {
    const expected = await sharedJson(`${DIR}/expected.json`);
    const p = expected.dtypes.float32.prompts[0];
    const tokenizer = new TextDecoder().decode(await sharedBytes(`${DIR}/tokenizer.json`));
    await downloadModel(URL, { id: 'gen' });

    const realFetch = globalThis.fetch;
    let calls = 0;
    globalThis.fetch = ((...args: Parameters<typeof fetch>) => (calls++, realFetch(...args))) as typeof fetch;
    try {
      const t0 = performance.now();
      const ckpt = await openStoredCheckpoint('gen');
      const model = await Model.fromCheckpoint(ckpt, await requestGpuDevice(), { expertBudget: 0.25 });
      const t1 = performance.now();
      const got = [await model.nextToken(p.input_ids)];
      while (got.length < 8) got.push(await model.nextToken([got[got.length - 1]]));
      expect(got).toEqual(p.greedy_ids.slice(0, 8));
      expect(model.experts!.stats.misses).toBeGreaterThan(8);
      console.log(`stored model: open + load ${(t1 - t0).toFixed(0)} ms, 8 tokens ${(performance.now() - t1).toFixed(0)} ms, ${model.experts!.stats.misses} expert loads, ${model.experts!.stats.stallMs.toFixed(0)} ms waiting for them`);
      model.destroy();
      expect(await readStoredText('gen', 'tokenizer.json')).toBe(tokenizer);
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(calls).toBe(0);
  });
});

describe('listModels, modelSize, deleteModel', () => {
  it('list, measure and delete models', async () => {
    const a = await downloadModel(URL);
    const b = await downloadModel(sharedUrl('golden/tiny_pow2_f32'), { id: 'pow2' });
    const list = (await listModels()).sort((x, y) => x.id.localeCompare(y.id));
    expect(list.map((m) => [m.id, m.complete, m.storedBytes === m.totalBytes])).toEqual([
      [URL, true, true],
      ['pow2', true, true],
    ].sort((x, y) => (x[0] as string).localeCompare(y[0] as string)));
    expect(list.find((m) => m.id === 'pow2')).toEqual(b);

    let texts = 0;
    for (const f of TEXTS) texts += (await sharedBytes(`${DIR}/${f}`)).byteLength;
    expect(await modelSize(URL)).toBe(a.totalBytes + texts);
    expect(await readStoredText('pow2', 'tokenizer.json')).toBeNull();
    expect(await readStoredText('pow2', 'config.json')).toBe(new TextDecoder().decode(await sharedBytes('golden/tiny_pow2_f32/config.json')));

    await deleteModel('pow2');
    expect((await listModels()).map((m) => m.id)).toEqual([URL]);
    expect(await modelSize('pow2')).toBe(0);
    expect(await keysUnder('pow2\u0000')).toEqual([]);
    const err = await openStoredCheckpoint('pow2').catch((e) => e);
    expect(err).toBeInstanceOf(ModelNotStoredError);
    expect(err.message).toMatch(/model "pow2" is not stored in this browser/);
    await deleteModel('never stored');
    await expectSameBytes(await openStoredCheckpoint(URL), 0); // the other model is untouched
  });

  it('a download under the same id from other files replaces the model, leaving no stale records', async () => {
    await downloadModel(URL, { id: 'x' });
    const bf16 = sharedUrl(`${DIR}/bf16/`);
    const info = await downloadModel(bf16, { id: 'x' });
    expect(info).toMatchObject({ url: bf16, complete: true, records: 65 });
    const m = await manifestOf('x');
    expect(await keysUnder('x\u0000')).toHaveLength(1 + m.files.length + 2 * m.records.length);
    const ckpt = await openStoredCheckpoint('x');
    expect(ckpt.tensors.get('model.embed_tokens.weight')!.dtype).toBe('BF16');
  });
});
