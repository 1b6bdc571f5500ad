/**
 * The IndexedDB side of the model store: one idb-keyval store, keys `${id}\0…` per model.
 *
 *   `${id}\0manifest`       Manifest: config, tensor index, record plan (written once per download call)
 *   `${id}\0file\0${name}`  text of config.json, tokenizer.json, ...
 *   `${id}\0rec\0${n}`      ArrayBuffer: the bytes of record n (≤ 64 MiB)
 *   `${id}\0done\0${n}`     DoneMark of record n, written in the same transaction as its bytes
 *
 * Completion marks are keys of their own, not fields of the manifest, so that finishing a record does not
 * rewrite the (large) manifest, and a record's bytes and its mark can only appear together.
 */
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval';
import type { ModelConfig } from '../model/config';
import type { Layout } from './layout';

export interface Manifest extends Layout {
  version: 1;
  id: string;
  url: string;
  config: ModelConfig;
  /** Small text files stored with the model (config.json, tokenizer.json, ...). */
  files: string[];
  /** safetensors files: a resume requires the same sizes and ETags. */
  sources: Record<string, { size: number; etag: string | null }>;
  totalBytes: number;
  createdAt: number;
}

export interface DoneMark {
  size: number;
  /** Hex SHA-256 of the record's bytes. */
  sha256: string;
}

let db: UseStore | null = null;
/** Opened on first use, so importing this module touches no database. */
export const store: UseStore = (mode, callback) => (db ??= createStore('lightmoe', 'models'))(mode, callback);

export const modelPrefix = (id: string) => `${id}\u0000`;
export const manifestKey = (id: string) => `${id}\u0000manifest`;
export const fileKey = (id: string, name: string) => `${id}\u0000file\u0000${name}`;
export const recordKey = (id: string, n: number) => `${id}\u0000rec\u0000${n}`;
export const doneKey = (id: string, n: number) => `${id}\u0000done\u0000${n}`;

export function checkId(id: string): void {
  if (typeof id !== 'string' || id === '' || id.includes('\u0000')) throw new TypeError(`model id must be a non-empty string without NUL characters, got ${JSON.stringify(id)}`);
}

/** Every key starting with `prefix` (all keys here are strings of UTF-16 units below U+FFFF after it). */
const under = (prefix: string) => IDBKeyRange.bound(prefix, prefix + '\uffff');

export function keysUnder(prefix: string): Promise<string[]> {
  return store('readonly', (s) => promisifyRequest(s.getAllKeys(under(prefix)))) as Promise<string[]>;
}

/** Deletes a model's keys in one transaction. */
export function deleteUnder(prefix: string): Promise<void> {
  return store('readwrite', (s) => {
    s.delete(under(prefix));
    return promisifyRequest(s.transaction);
  });
}

/** The done marks of a model's records, by record number. */
export function doneMarks(id: string): Promise<Map<number, DoneMark>> {
  const prefix = `${id}\u0000done\u0000`;
  return store('readonly', async (s) => {
    // Both from one transaction, so keys and values line up.
    const [keys, values] = await Promise.all([promisifyRequest(s.getAllKeys(under(prefix))), promisifyRequest(s.getAll(under(prefix)))]);
    return new Map(keys.map((k, i) => [Number((k as string).slice(prefix.length)), values[i] as DoneMark]));
  });
}

/** Manifests of all stored models. */
export async function allManifests(): Promise<Manifest[]> {
  const keys = (await store('readonly', (s) => promisifyRequest(s.getAllKeys()))) as string[];
  const ids = keys.filter((k) => typeof k === 'string' && k.endsWith('\u0000manifest') && k.indexOf('\u0000') === k.length - 9).map((k) => k.slice(0, -9));
  return store('readonly', (s) => Promise.all(ids.map((id) => promisifyRequest(s.get(manifestKey(id)) as IDBRequest<Manifest>))));
}

/** Bytes of the stored records of `m`. */
export function storedBytes(m: Manifest, done: Map<number, DoneMark>): number {
  return m.records.reduce((s, r, i) => s + (done.get(i)?.size === r.size ? r.size : 0), 0);
}

export async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}
