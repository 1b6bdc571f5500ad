import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { get, set } from 'idb-keyval';
import { sharedBytes, sharedSource, sharedUrl } from '../engine/fixtures';
import { expertTensorNames, openCheckpoint, type Checkpoint } from '../model/checkpoint';
import { INDEX_FILE } from '../model/safetensors';
import { writeSafetensors, type TensorData } from '../model/writeSafetensors';
import { doneKey, keysUnder, manifestKey, recordKey, store, type Manifest } from './db';
import { isQuotaError } from './errors';
import { deleteModel, downloadModel, listModels, openStoredCheckpoint, StorageFullError, type DownloadProgress } from './modelStore';
import { bytesEqual, loggingFetch, memoryFetch } from './testFetch';

const DIR = 'models/tiny-hybrid-stories';
const URL = sharedUrl(DIR + '/');
let ref: Checkpoint;
let headerBytes: number;

beforeAll(async () => {
  ref = await openCheckpoint(sharedSource(DIR));
  const file = new Uint8Array(await sharedBytes(`${DIR}/model.safetensors`));
  headerBytes = 8 + new DataView(file.buffer).getUint32(0, true);
});

afterEach(async () => {
  for (const m of await listModels()) await deleteModel(m.id);
});

const manifestOf = (id: string) => get<Manifest>(manifestKey(id), store) as Promise<Manifest>;
const weightBytes = () => [...ref.tensors.values()].reduce((s, t) => s + t.byteLength, 0);

async function expectSameBytes(ckpt: Checkpoint, other: Checkpoint = ref) {
  for (const [name, t] of other.tensors) expect(bytesEqual(await ckpt.read(name, 0, t.byteLength), await other.read(name, 0, t.byteLength)), name).toBe(true);
}

describe('abort and resume', () => {
  for (const mode of ['range', 'stream'] as const)
    it(`${mode}: an abort keeps the stored records; the next download fetches only the rest`, async () => {
      const id = `abort-${mode}`;
      const ctl = new AbortController();
      let stored = 0;
      let abortedAt = 0;
      const first = downloadModel(URL, {
        id,
        fetch: loggingFetch({ noRange: mode === 'stream' }).fetch,
        signal: ctl.signal,
        onProgress: (p) => {
          if (p.phase === 'store' && ++stored === 10) {
            abortedAt = performance.now();
            ctl.abort();
          }
        },
      });
      const err = await first.catch((e) => e);
      const stopMs = performance.now() - abortedAt;
      expect(err).toBeInstanceOf(DOMException);
      expect(err.name).toBe('AbortError');
      expect(stopMs).toBeLessThan(1000);

      const [before] = await listModels();
      expect(before).toMatchObject({ id, complete: false, records: 65 });
      expect(before.recordsStored).toBeGreaterThanOrEqual(10);
      expect(before.recordsStored).toBeLessThan(65);
      // Every record present is marked, every mark has its record.
      const keys = await keysUnder(`${id}\u0000`);
      expect(keys.filter((k) => k.includes('\u0000rec\u0000')).map((k) => k.replace('\u0000rec\u0000', '\u0000done\u0000')).sort()).toEqual(keys.filter((k) => k.includes('\u0000done\u0000')).sort());
      await expect(openStoredCheckpoint(id)).rejects.toThrow(new RegExp(`model "${id}" is incomplete: ${65 - before.recordsStored} of 65 records are missing \\(`));

      const log = loggingFetch({ noRange: mode === 'stream' });
      const events: DownloadProgress[] = [];
      const info = await downloadModel(URL, { id, fetch: log.fetch, onProgress: (p) => events.push(p) });
      expect(info.complete).toBe(true);
      const stores = events.filter((e) => e.phase === 'store');
      expect(stores).toHaveLength(65 - before.recordsStored);
      expect(events[0].bytes).toBeGreaterThan(before.storedBytes); // stored records count as done
      expect(events.at(-1)!.bytes).toBe(weightBytes());
      const missing = weightBytes() - before.storedBytes;
      if (mode === 'range') expect(log.bytesOf('model.safetensors')).toBe(headerBytes + missing);
      console.log(`${mode}: aborted after ${before.recordsStored} records, stopped ${stopMs.toFixed(0)} ms after abort(); resume read ${(log.bytesOf('model.safetensors') / 2 ** 20).toFixed(1)} MiB for ${(missing / 2 ** 20).toFixed(1)} MiB missing`);
      await expectSameBytes(await openStoredCheckpoint(id));
    });
});

describe('a flaky network', () => {
  /** The real server, except that weight ranges (past the header) fail as `fault` says for request n. */
  function flaky(fault: (n: number) => 'throw' | 'cut' | 503 | 404 | null) {
    const log = loggingFetch();
    let n = 0;
    const tries = new Map<string, number>();
    const doFetch: typeof fetch = async (input, init) => {
      const range = new Headers(init?.headers).get('Range');
      const start = range ? Number(/^bytes=(\d+)-/.exec(range)![1]) : 0;
      if (!String(input).endsWith('model.safetensors') || start < headerBytes) return log.fetch(input, init);
      tries.set(range!, (tries.get(range!) ?? 0) + 1);
      const f = fault(n++);
      if (f === 'throw') throw new TypeError('Failed to fetch');
      if (typeof f === 'number') return new Response('busy', { status: f });
      const res = await log.fetch(input, init);
      if (f !== 'cut') return res;
      const bytes = new Uint8Array(await res.arrayBuffer());
      return new Response(bytes.slice(0, bytes.length >> 1), { status: 206, headers: res.headers });
    };
    return { fetch: doFetch, tries };
  }

  it('a dropped connection, a cut body and a 503 are each tried again; the model is stored whole and exact', async () => {
    const faults = ['throw', 'cut', 503] as const;
    const net = flaky((n) => faults[n] ?? null); // the first three weight ranges (fetched together) fail once each
    const info = await downloadModel(URL, { id: 'flaky', fetch: net.fetch, concurrency: 1 });
    expect(info.complete).toBe(true);
    const tries = [...net.tries.values()];
    expect(tries.slice(0, 3)).toEqual([2, 2, 2]);
    expect(tries.slice(3).every((t) => t === 1)).toBe(true);
    await expectSameBytes(await openStoredCheckpoint('flaky'));
  });

  it('a range that keeps failing fails the download after 3 tries, naming it; what was stored stays, and a later download completes', async () => {
    let stored = 0; // once 5 records are stored, every range is cut
    const net = flaky(() => (stored >= 5 ? 'cut' : null));
    const err = await downloadModel(URL, { id: 'cut', fetch: net.fetch, concurrency: 1, onProgress: (p) => void (p.phase === 'store' && stored++) }).catch((e) => e);
    expect(err.message).toMatch(/^GET .*model\.safetensors: expected \d+ bytes at \d+, got \d+ \(3 tries\)$/);
    const [info] = await listModels();
    expect(info).toMatchObject({ id: 'cut', complete: false, recordsStored: 5 });
    expect((await downloadModel(URL, { id: 'cut' })).complete).toBe(true);
    await expectSameBytes(await openStoredCheckpoint('cut'));
  });

  it('a 404 is not tried again', async () => {
    const net = flaky(() => 404);
    const err = await downloadModel(URL, { id: 'gone', fetch: net.fetch, concurrency: 1 }).catch((e) => e);
    expect(err.message).toMatch(/model\.safetensors bytes \d+\.\.\d+: HTTP 404/);
    expect(net.tries.size).toBeGreaterThan(0);
    expect([...net.tries.values()].every((t) => t === 1)).toBe(true);
  });
});

describe('storage', () => {
  it('a quota smaller than the model: StorageFullError with both sizes, nothing stored', async () => {
    let persistAsked = false;
    const storage = {
      estimate: async () => ({ quota: 10 * 2 ** 20, usage: 2 ** 20 }),
      persist: async () => ((persistAsked = true), false),
    };
    const log = loggingFetch();
    const err = await downloadModel(URL, { id: 'full', storage, fetch: log.fetch }).catch((e) => e);
    expect(err).toBeInstanceOf(StorageFullError);
    expect(err.message).toMatch(/^not enough storage: model "full" needs 26\.\d MiB, but only 9\.0 MiB are free/);
    expect(err.available).toBe(9 * 2 ** 20);
    expect(await listModels()).toEqual([]);
    expect(await keysUnder('full\u0000')).toEqual([]);
    expect(persistAsked).toBe(false);
    // Only the header was read.
    expect(log.bytesOf('model.safetensors')).toBe(headerBytes);
  });

  it('asks for persistent storage, and does not mind a refusal', async () => {
    let persistAsked = false;
    const storage = { estimate: async () => ({ quota: 2 ** 40, usage: 0 }), persist: async () => ((persistAsked = true), false) };
    expect((await downloadModel(URL, { id: 'p', storage })).complete).toBe(true);
    expect(persistAsked).toBe(true);
  });

  it('a QuotaExceededError from IndexedDB becomes StorageFullError; the records before it stay', async () => {
    // IndexedDB cannot be filled on purpose here; a put that throws the error a full disk gives stands in.
    const put = IDBObjectStore.prototype.put;
    let records = 0;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (typeof key === 'string' && key.includes('\u0000rec\u0000') && ++records > 5) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return put.call(this, value, key);
    } as typeof put;
    let err: unknown;
    try {
      err = await downloadModel(URL, { id: 'q', concurrency: 1 }).catch((e) => e);
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    expect(isQuotaError((err as Error).cause)).toBe(true);
    expect(err).toBeInstanceOf(StorageFullError);
    expect((err as Error).message).toMatch(/^not enough storage: record 5 \(layer 0 expert 4\) needs 0\.4 MiB, but only [\d.]+ MiB are free/);
    const [info] = await listModels();
    expect(info).toMatchObject({ recordsStored: 5, complete: false });
    expect((await downloadModel(URL, { id: 'q' })).complete).toBe(true);
  });
});

describe('corruption', () => {
  it('a changed record fails its SHA-256 check, naming record and tensor; it is refetched next time', async () => {
    await downloadModel(URL, { id: 'c' });
    const m = await manifestOf('c');
    const n = m.records.findIndex((r) => r.label === 'layer 2 expert 5');
    const buf = (await get<ArrayBuffer>(recordKey('c', n), store))!;
    new Uint8Array(buf)[1000] ^= 1;
    await set(recordKey('c', n), buf, store);

    const ckpt = await openStoredCheckpoint('c');
    const [w1, w3, w2] = expertTensorNames(2, 5);
    const len = ckpt.tensors.get(w1)!.byteLength;
    // As the expert cache reads an expert: its three matrices at once.
    const reads = await Promise.allSettled([w1, w3, w2].map((t) => ckpt.read(t, 0, len)));
    for (const r of reads) expect(r.status).toBe('rejected');
    expect((reads[1] as PromiseRejectedResult).reason.message).toBe(
      `c: cannot read tensor ${w3}: stored record ${n} (layer 2 expert 5) fails its SHA-256 check; it was removed from the store, run downloadModel("c") again to fetch it`,
    );
    expect(await get(doneKey('c', n), store)).toBeUndefined();
    expect(await get(recordKey('c', n), store)).toBeUndefined();
    // Other records still read.
    const other = expertTensorNames(2, 4)[0];
    expect(bytesEqual(await ckpt.read(other, 0, len), await ref.read(other, 0, len))).toBe(true);
    expect((await listModels())[0]).toMatchObject({ complete: false, recordsStored: 64 });

    const events: DownloadProgress[] = [];
    await downloadModel(URL, { id: 'c', onProgress: (p) => events.push(p) });
    expect(events.filter((e) => e.phase === 'store').map((e) => e.record)).toEqual(['layer 2 expert 5']);
    await expectSameBytes(await openStoredCheckpoint('c'));
  });

  it('a truncated dense record is reported with its size', async () => {
    await downloadModel(URL, { id: 't' });
    const buf = (await get<ArrayBuffer>(recordKey('t', 0), store))!;
    await set(recordKey('t', 0), buf.slice(0, 1000), store);
    const ckpt = await openStoredCheckpoint('t');
    await expect(ckpt.read('model.norm.weight', 0, 4)).rejects.toThrow(`t: cannot read tensor model.norm.weight: stored record 0 (dense 0) has 1000 bytes instead of ${buf.byteLength}`);
  });
});

describe('other checkpoints and servers', () => {
  /** golden/tiny_pow2_f32 in two shards, split by tensor name so that an expert's w1, w2, w3 lie in both. */
  async function shardedFiles() {
    const pow2 = await openCheckpoint(sharedSource('golden/tiny_pow2_f32'));
    const shards: Record<string, TensorData>[] = [{}, {}];
    const weightMap: Record<string, string> = {};
    let i = 0;
    for (const [name, t] of pow2.tensors) {
      const s = i++ % 2;
      shards[s][name] = { dtype: t.dtype, shape: t.shape, data: await pow2.read(name, 0, t.byteLength) };
      weightMap[name] = `model-0000${s + 1}-of-00002.safetensors`;
    }
    const files: Record<string, Uint8Array | string> = {
      'config.json': new TextDecoder().decode(await sharedBytes('golden/tiny_pow2_f32/config.json')),
      [INDEX_FILE]: JSON.stringify({ metadata: {}, weight_map: weightMap }),
      'model-00001-of-00002.safetensors': writeSafetensors(shards[0]),
      'model-00002-of-00002.safetensors': writeSafetensors(shards[1]),
    };
    return { pow2, files };
  }

  for (const ranges of [true, false])
    it(`a sharded checkpoint (${ranges ? 'Range' : 'no Range'}), experts spanning two shards`, async () => {
      const { pow2, files } = await shardedFiles();
      const base = 'https://example.test/pow2/';
      const server = memoryFetch(base, files, { ranges });
      const info = await downloadModel(base, { fetch: server.fetch, recordBytes: 20_000 });
      expect(info.complete).toBe(true);
      const m = await manifestOf(base);
      expect(m.files).toEqual(['config.json', INDEX_FILE]);
      expect(m.records.some((r) => r.kind === 'expert' && new Set(r.segments.map((s) => s.file)).size === 2)).toBe(true);
      if (!ranges) {
        const shardGets = server.requests.filter((r) => r.url.endsWith('.safetensors') && r.status === 200);
        expect(shardGets).toHaveLength(4); // per shard: one cancelled header GET, one data GET
      }
      await expectSameBytes(await openStoredCheckpoint(base), pow2);
    });

  it('a checkpoint that does not match its config fails before any weight is fetched', async () => {
    const { files } = await shardedFiles();
    const config = JSON.parse(files['config.json'] as string);
    config.num_local_experts += 1;
    files['config.json'] = JSON.stringify(config);
    const base = 'https://example.test/bad/';
    const server = memoryFetch(base, files, { ranges: true });
    await expect(downloadModel(base, { fetch: server.fetch })).rejects.toThrow(/block_sparse_moe\.gate\.weight" has shape \[\d+, \d+\], expected/);
    // Two requests per shard: the 8-byte length, then the header.
    expect(server.requests.filter((r) => r.url.endsWith('.safetensors')).map((r) => r.range!.split('-')[0])).toEqual(['bytes=0', 'bytes=8', 'bytes=0', 'bytes=8']);
    expect(await listModels()).toEqual([]);
  });

  it('an id with a NUL character is refused', async () => {
    await expect(downloadModel(URL, { id: 'a\u0000b' })).rejects.toThrow(/model id must be a non-empty string without NUL/);
  });
});
