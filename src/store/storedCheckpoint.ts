/** A Checkpoint read from IndexedDB only: a stored model loads and runs without the network. */
import { delMany, get } from 'idb-keyval';
import type { Checkpoint } from '../model/checkpoint';
import { parseConfig } from '../model/config';
import type { TensorInfo } from '../model/safetensors';
import { checkTensors } from '../model/weights';
import { checkId, doneKey, doneMarks, fileKey, manifestKey, recordKey, sha256Hex, store, type DoneMark, type Manifest } from './db';
import { ModelNotStoredError } from './errors';

export interface StoredCheckpointOptions {
  /** Dense records kept in memory after a read (default 2). Experts are not kept: the GPU expert cache holds them. */
  denseRecords?: number;
}

/** Text of a small file stored with the model (config.json, tokenizer.json, ...); null when it was not in the folder. */
export async function readStoredText(id: string, file: string): Promise<string | null> {
  checkId(id);
  return (await get<string>(fileKey(id, file), store)) ?? null;
}

export async function openStoredCheckpoint(id: string, opts: StoredCheckpointOptions = {}): Promise<Checkpoint> {
  checkId(id);
  const m = await get<Manifest>(manifestKey(id), store);
  if (!m) throw new ModelNotStoredError(id, `model "${id}" is not stored in this browser; download it first (downloadModel)`, NaN, NaN);
  const marks = await doneMarks(id);
  const missing = m.records.flatMap((r, n) => (marks.get(n)?.size === r.size ? [] : [r.label]));
  if (missing.length) {
    const some = missing.slice(0, 5).join(', ') + (missing.length > 5 ? ', ...' : '');
    throw new ModelNotStoredError(id, `model "${id}" is incomplete: ${missing.length} of ${m.records.length} records are missing (${some}); run downloadModel again to fetch them`, missing.length, m.records.length);
  }

  // From the stored config.json rather than the manifest's copy, so a newer parser sees the original file.
  const configText = await readStoredText(id, 'config.json');
  if (configText === null) throw new ModelNotStoredError(id, `model "${id}": config.json is missing from the store`, 0, m.records.length);
  const config = parseConfig(JSON.parse(configText), `${id}/config.json`);
  const tensors = new Map<string, TensorInfo>(
    Object.entries(m.tensors).map(([name, t]) => [name, { name, dtype: t.dtype, shape: t.shape, file: t.file, offset: t.offset, byteLength: t.byteLength }]),
  );
  const quantized = checkTensors(config, tensors);

  const load = recordLoader(id, m, marks, opts.denseRecords ?? 2);
  return {
    name: id,
    config,
    tensors,
    quantized,
    async read(name, offset, length) {
      if (!Object.hasOwn(m.tensors, name)) throw new Error(`${id}: no tensor ${name}`);
      const t = m.tensors[name];
      if (!(offset >= 0 && length >= 0 && offset + length <= t.byteLength)) throw new Error(`${id}: ${name}: read of ${length} bytes at ${offset} is outside its ${t.byteLength} bytes`);
      const out = new Uint8Array(length);
      for (const p of t.parts) {
        const lo = Math.max(offset, p.tensorOffset);
        const hi = Math.min(offset + length, p.tensorOffset + p.length);
        if (hi <= lo) continue;
        let rec: Uint8Array;
        try {
          rec = await load(p.record);
        } catch (e) {
          throw new Error(`${id}: cannot read tensor ${name}: ${(e as Error).message}`, { cause: e });
        }
        out.set(rec.subarray(p.at + lo - p.tensorOffset, p.at + hi - p.tensorOffset), lo - offset);
      }
      return out;
    },
  };
}

/**
 * Record bytes by number, verified against their done marks. Concurrent reads of one record share one
 * IndexedDB read (the expert cache reads w1, w3 and w2 of an expert at once); dense records stay in a small LRU.
 */
function recordLoader(id: string, m: Manifest, marks: Map<number, DoneMark>, keepDense: number) {
  const pending = new Map<number, Promise<Uint8Array>>();
  const lru = new Map<number, Uint8Array>();
  // SHA-256 of a 64 MiB record costs ~0.1 s of CPU: a streamed expert is hashed on its first read only,
  // later reads (the expert cache evicts and reloads) check the size.
  const hashed = new Set<number>();

  const fetchVerified = async (n: number): Promise<Uint8Array> => {
    const mark = marks.get(n)!;
    const rec = m.records[n];
    const buf = await get<ArrayBuffer>(recordKey(id, n), store);
    const problem =
      buf === undefined ? 'is missing'
      : buf.byteLength !== mark.size ? `has ${buf.byteLength} bytes instead of ${mark.size}`
      : !hashed.has(n) && (await sha256Hex(buf)) !== mark.sha256 ? 'fails its SHA-256 check'
      : null;
    if (problem) {
      // Unmarked, so the next downloadModel fetches it again; bytes and mark go in one transaction.
      await delMany([recordKey(id, n), doneKey(id, n)], store).catch(() => {});
      marks.delete(n);
      throw new Error(`stored record ${n} (${rec.label}) ${problem}; it was removed from the store, run downloadModel("${id}") again to fetch it`);
    }
    hashed.add(n);
    return new Uint8Array(buf!);
  };

  return (n: number): Promise<Uint8Array> => {
    const hit = lru.get(n);
    if (hit) {
      lru.delete(n);
      lru.set(n, hit);
      return Promise.resolve(hit);
    }
    if (!marks.has(n)) return Promise.reject(new Error(`stored record ${n} (${m.records[n].label}) was removed as corrupt; run downloadModel("${id}") again to fetch it`));
    let p = pending.get(n);
    if (!p) {
      p = fetchVerified(n)
        .then((bytes) => {
          if (m.records[n].kind === 'dense' && keepDense > 0) {
            lru.set(n, bytes);
            while (lru.size > keepDense) lru.delete(lru.keys().next().value!);
          }
          return bytes;
        })
        .finally(() => pending.delete(n));
      pending.set(n, p);
    }
    return p;
  };
}
