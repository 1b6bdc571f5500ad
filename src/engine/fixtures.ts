/** Fixtures from ../shared (golden cases, trained models), served to browser tests by vite's /@fs/ route. */
import { fetchSource, type ModelSource } from '../model/source';

/**
 * Options that hold a model to the exact math of the reference: an f32 KV cache (a GPU with
 * shader-f16 would otherwise keep f16 keys and values; their own test is in longContext.test.ts).
 */
export const EXACT = { choices: { kvFormat: 'f32' } } as const;

/** Expert budgets and prefetch modes the streamed-expert tests run: each budget, and each prefetch mode at a budget that makes experts come and go. */
export const EXPERT_SETTINGS = [
  [1, false],
  [0.5, 'next'],
  [0.25, false],
  [0.25, 'layer'],
] as const;

export function sharedUrl(path: string): string {
  return `/@fs${__SHARED_DIR__}/${path}`;
}

export function sharedSource(dir: string): ModelSource {
  return fetchSource(sharedUrl(dir) + '/');
}

export async function sharedBytes(path: string): Promise<ArrayBuffer> {
  const r = await fetch(sharedUrl(path));
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

export async function sharedJson<T = any>(path: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await sharedBytes(path)));
}
