/**
 * Models stored in the browser (IndexedDB): download once, resumably, then load offline. Experts are stored
 * one record per expert so the GPU expert cache can stream one with one read. Layout: db.ts.
 */
import { get, promisifyRequest } from 'idb-keyval';
import { allManifests, checkId, deleteUnder, doneMarks, fileKey, manifestKey, modelPrefix, store, type Manifest } from './db';
import { modelInfo, type StoredModelInfo } from './download';

export { downloadModel, type DownloadOptions, type DownloadProgress, type StorageLike, type StoredModelInfo } from './download';
export { openStoredCheckpoint, readStoredText, type StoredCheckpointOptions } from './storedCheckpoint';
export { ModelNotStoredError, StorageFullError } from './errors';

/** Every model with a manifest in the store, complete or not. */
export async function listModels(): Promise<StoredModelInfo[]> {
  const out: StoredModelInfo[] = [];
  for (const m of await allManifests()) out.push(modelInfo(m, await doneMarks(m.id)));
  return out;
}

/** What is stored of one model; null when nothing is. */
export async function storedModel(id: string): Promise<StoredModelInfo | null> {
  checkId(id);
  const m = await get<Manifest>(manifestKey(id), store);
  return m ? modelInfo(m, await doneMarks(id)) : null;
}

/** Removes a model's manifest, files and records in one transaction; a model that is not stored is no error. */
export async function deleteModel(id: string): Promise<void> {
  checkId(id);
  await deleteUnder(modelPrefix(id));
}

/**
 * Bytes the model takes in IndexedDB: its stored records and text files (the manifest not counted);
 * 0 when it is not stored.
 */
export async function modelSize(id: string): Promise<number> {
  checkId(id);
  const m = await get<Manifest>(manifestKey(id), store);
  if (!m) return 0;
  const texts = await store('readonly', (s) => Promise.all(m.files.map((f) => promisifyRequest(s.get(fileKey(id, f)) as IDBRequest<string | undefined>))));
  return modelInfo(m, await doneMarks(id)).storedBytes + texts.reduce((n, t) => n + (t ? new TextEncoder().encode(t).length : 0), 0);
}
