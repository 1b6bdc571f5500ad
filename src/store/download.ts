/** Downloading a model folder into IndexedDB, resumably: see db.ts for what is stored where. */
import { get, setMany } from 'idb-keyval';
import { openCheckpoint } from '../model/checkpoint';
import { INDEX_FILE } from '../model/safetensors';
import { checkId, deleteUnder, doneKey, doneMarks, fileKey, manifestKey, modelPrefix, recordKey, sha256Hex, store, storedBytes, type DoneMark, type Manifest } from './db';
import { abortReason, isQuotaError, StorageFullError } from './errors';
import { fetchByRanges, fetchByStreaming } from './fetchRecords';
import { planRecords } from './layout';
import { remoteModel } from './remote';

export interface DownloadProgress {
  /** 'fetch': a record's bytes arrived; 'store': they are in IndexedDB, marked complete. */
  phase: 'fetch' | 'store';
  /** The safetensors file the record comes from. */
  file: string;
  fileBytes: number;
  fileTotal: number;
  /** Weight bytes done (records stored before this call count as done) and in all. */
  bytes: number;
  total: number;
  /** Over the bytes this call fetched. */
  bytesPerSecond: number;
  /** The record, e.g. "layer 3 expert 5". */
  record: string;
  recordsStored: number;
  records: number;
}

/** The part of navigator.storage a download uses. */
export interface StorageLike {
  estimate(): Promise<{ quota?: number; usage?: number }>;
  persist?(): Promise<boolean>;
}

export interface DownloadOptions {
  /** Key of the model in the store; default: the base URL. */
  id?: string;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  fetch?: typeof fetch;
  /** Default: navigator.storage. */
  storage?: StorageLike;
  /** Largest record in bytes (default and maximum 64 MiB); smaller ones make tests split tensors. A resume with another value starts over. */
  recordBytes?: number;
  /** Range requests in flight at once (default 4). */
  concurrency?: number;
}

export interface StoredModelInfo {
  id: string;
  url: string;
  /** Weight bytes of the whole model, and of the records stored so far. */
  totalBytes: number;
  storedBytes: number;
  complete: boolean;
  records: number;
  recordsStored: number;
}

const TEXT_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', INDEX_FILE];

export function modelInfo(m: Manifest, done: Map<number, DoneMark>): StoredModelInfo {
  const recordsStored = m.records.filter((r, i) => done.get(i)?.size === r.size).length;
  return { id: m.id, url: m.url, totalBytes: m.totalBytes, storedBytes: storedBytes(m, done), complete: recordsStored === m.records.length, records: m.records.length, recordsStored };
}

/** Same files, same cut: records stored by an earlier download can be kept. */
function sameLayout(a: Manifest, b: Manifest): boolean {
  const key = (m: Manifest) => JSON.stringify([m.version, m.url, m.sources, m.records, m.tensors]);
  return key(a) === key(b);
}

async function freeSpace(storage: StorageLike | undefined): Promise<number> {
  const est = await storage?.estimate().catch(() => null);
  return est?.quota === undefined ? NaN : est.quota - (est.usage ?? 0);
}

/** One transaction: all entries are written, or none. */
async function write(entries: [string, unknown][], what: string, needed: number, storage: StorageLike | undefined): Promise<void> {
  try {
    await setMany(entries, store);
  } catch (e) {
    if (isQuotaError(e)) throw new StorageFullError(what, needed, await freeSpace(storage), { cause: e });
    throw e;
  }
}

/**
 * Stores the Hugging Face-layout model folder at `baseUrl` in IndexedDB. Headers are read and the checkpoint
 * validated before any weight is fetched; records already stored under the same id are kept.
 */
export async function downloadModel(baseUrl: string, opts: DownloadOptions = {}): Promise<StoredModelInfo> {
  const id = opts.id ?? baseUrl;
  checkId(id);
  const user = opts.signal;
  if (user?.aborted) throw abortReason(user);
  const storage = opts.storage ?? (typeof navigator !== 'undefined' ? navigator.storage : undefined);
  // One signal for every request: the caller's abort, or our own on the first failure, stops them all.
  const stop = new AbortController();
  const signal = user ? AbortSignal.any([user, stop.signal]) : stop.signal;
  const remote = remoteModel(baseUrl, opts.fetch ?? globalThis.fetch.bind(globalThis), signal);
  try {
    const ckpt = await openCheckpoint(remote.source);
    const texts: [string, string][] = [];
    for (const f of TEXT_FILES) {
      const t = await remote.source.readText(f);
      if (t !== null) texts.push([f, t]);
    }
    const layout = planRecords(ckpt.tensors, ckpt.config, Math.min(opts.recordBytes ?? Infinity, 64 * 2 ** 20));
    const sources = Object.fromEntries([...remote.files.values()].map((f) => [f.path, { size: f.size, etag: f.etag }]));
    const manifest: Manifest = {
      version: 1,
      id,
      url: baseUrl,
      config: ckpt.config,
      files: texts.map(([f]) => f),
      sources,
      ...layout,
      totalBytes: layout.records.reduce((s, r) => s + r.size, 0),
      createdAt: Date.now(),
    };

    const old = await get<Manifest>(manifestKey(id), store);
    let done = new Map<number, DoneMark>();
    if (old && sameLayout(old, manifest)) {
      manifest.createdAt = old.createdAt;
      // A mark is written with its record, so a mark of the right size means the record is there.
      for (const [n, m] of await doneMarks(id)) if (m.size === manifest.records[n]?.size) done.set(n, m);
    } else if (old) {
      await deleteUnder(modelPrefix(id)); // another model, or the files changed: nothing can be reused
    }

    const todo = manifest.records.map((_, n) => n).filter((n) => !done.has(n));
    const need = todo.reduce((s, n) => s + manifest.records[n].size, 0) + texts.reduce((s, [, t]) => s + t.length, 0);
    const free = await freeSpace(storage);
    if (free < need) throw new StorageFullError(`model "${id}"${done.size ? ' (the rest of it)' : ''}`, need, free);
    // Best effort: without persistence the browser may evict the model under storage pressure.
    storage?.persist?.().catch(() => {});

    signal.throwIfAborted();
    await write([[manifestKey(id), manifest], ...texts.map(([f, t]): [string, string] => [fileKey(id, f), t])], `the manifest of "${id}"`, need, storage);

    const progress = tracker(manifest, done, opts.onProgress);
    const deliver = async (n: number, bytes: Uint8Array) => {
      progress(n, 'fetch');
      const mark: DoneMark = { size: bytes.length, sha256: await sha256Hex(bytes) };
      signal.throwIfAborted();
      await write([[recordKey(id, n), bytes.buffer], [doneKey(id, n), mark]], `record ${n} (${manifest.records[n].label})`, bytes.length, storage);
      done.set(n, mark);
      progress(n, 'store');
    };
    if ([...remote.files.values()].every((f) => f.ranges)) {
      await fetchByRanges(remote, manifest.records, todo, deliver, opts.concurrency ?? 4, (e) => stop.abort(e));
    } else {
      await fetchByStreaming(remote, manifest.records, todo, deliver);
    }
    return modelInfo(manifest, done);
  } catch (e) {
    stop.abort(e);
    if (user?.aborted) throw abortReason(user);
    throw e;
  }
}

function tracker(m: Manifest, done: Map<number, DoneMark>, onProgress?: (p: DownloadProgress) => void) {
  const fileOf = (n: number) => m.records[n].segments[0].file;
  const fileTotal = new Map<string, number>();
  const fileBytes = new Map<string, number>();
  let bytes = 0;
  m.records.forEach((r, n) => {
    const f = fileOf(n);
    fileTotal.set(f, (fileTotal.get(f) ?? 0) + r.size);
    if (done.has(n)) {
      fileBytes.set(f, (fileBytes.get(f) ?? 0) + r.size);
      bytes += r.size;
    }
  });
  let fetched = 0;
  const t0 = performance.now();
  return (n: number, phase: DownloadProgress['phase']) => {
    const size = m.records[n].size;
    const file = fileOf(n);
    if (phase === 'fetch') {
      fetched += size;
      bytes += size;
      fileBytes.set(file, (fileBytes.get(file) ?? 0) + size);
    }
    onProgress?.({
      phase,
      file,
      fileBytes: fileBytes.get(file) ?? 0,
      fileTotal: fileTotal.get(file)!,
      bytes,
      total: m.totalBytes,
      bytesPerSecond: fetched / Math.max((performance.now() - t0) / 1000, 1e-3),
      record: m.records[n].label,
      recordsStored: done.size,
      records: m.records.length,
    });
  };
}
