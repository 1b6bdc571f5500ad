/**
 * Which models the page offers: those the server lists in /models/index.json (the embedded default
 * and every model folder under public/models/), and those stored in this browser's IndexedDB, with
 * their sizes, a Delete each, and the storage quota.
 */
import { deleteModel, listModels } from '../src/index';
import { bytes, el, mib } from './format';

export interface ServedModel {
  id: string;
  url: string;
}

/** The embedded default's folder: its weights are random. */
export const DEFAULT_MODEL = '/models/default/';

export async function servedModels(): Promise<ServedModel[]> {
  try {
    const r = await fetch('/models/index.json');
    if (!r.ok) return [{ id: 'default', url: DEFAULT_MODEL }];
    return (await r.json()) as ServedModel[];
  } catch {
    return [{ id: 'default', url: DEFAULT_MODEL }];
  }
}

export async function showStored(list: HTMLElement, quota: HTMLElement, onChange: () => void): Promise<void> {
  const models = await listModels();
  list.replaceChildren(
    ...models.map((m) => {
      const del = el('button', { type: 'button', className: 'secondary' }, 'Delete');
      del.setAttribute('aria-label', `Delete ${m.url}`);
      del.addEventListener('click', () => void deleteModel(m.id).then(onChange));
      return el('li', {}, el('span', { className: 'name' }, `${m.url} — ${mib(m.storedBytes).replace(' MiB', '')} of ${mib(m.totalBytes)}${m.complete ? '' : ' (incomplete)'}`), del);
    }),
  );
  if (!models.length) list.append(el('li', { className: 'note' }, 'None yet: a model loaded from a URL is stored here, so it loads again offline.'));
  const e = await navigator.storage?.estimate?.().catch(() => undefined);
  quota.textContent = e?.quota ? `Storage: ${bytes(e.usage ?? 0)} used of ${bytes(e.quota)} (${bytes(e.quota - (e.usage ?? 0))} free).` : '';
}
