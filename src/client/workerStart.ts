/**
 * The engine's module worker, with its start watched: a worker script that does not load (a 404, or an
 * HTML page from a single-page app's fallback) fires only an `error` event, and comlink would wait forever.
 */
import workerUrl from '../worker/worker.ts?worker&url';

/** The worker script could not be loaded or crashed. */
export class WorkerStartError extends Error {
  readonly url: string;
  constructor(url: string, detail: string) {
    super(`lightmoe's engine worker (${url}) ${detail}`);
    this.name = 'WorkerStartError';
    this.url = url;
  }
}

export interface StartedWorker {
  worker: Worker;
  /** Rejects with a WorkerStartError when the worker fails; never resolves. */
  failed: Promise<never>;
}

export function startEngineWorker(): StartedWorker {
  // The library build turns this into `new URL("assets/worker-….js", import.meta.url)`, which a
  // consumer's bundler sees and emits; the worker chunk imports nothing.
  const url = new URL(workerUrl, import.meta.url);
  const worker = new Worker(url, { type: 'module', name: 'lightmoe' });
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (ev) => {
      const msg = (ev as ErrorEvent).message;
      reject(
        new WorkerStartError(
          url.href,
          msg
            ? `failed: ${msg}`
            : 'did not load: the server answered with no JavaScript (a 404, or an HTML page from a single-page-app fallback). Serve the lightmoe package files as they are, or pass worker: false.',
        ),
      );
    });
    worker.addEventListener('messageerror', () => reject(new WorkerStartError(url.href, 'sent a message that could not be read')));
  });
  failed.catch(() => {});
  return { worker, failed };
}
