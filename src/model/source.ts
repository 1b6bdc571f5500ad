/** Byte sources a model can be read from: in-memory files or a folder served over HTTP. */

export interface RandomAccessFile {
  /** The path the file was opened with (relative to its source). */
  readonly name: string;
  readonly size: number;
  /** A fresh copy of `length` bytes at `offset`; the caller owns it. Throws beyond the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface ModelSource {
  /** For messages, e.g. a folder path or URL. */
  readonly name: string;
  /** null when the file does not exist. */
  open(path: string): Promise<RandomAccessFile | null>;
  /** UTF-8 text of a file; null when missing. */
  readText(path: string): Promise<string | null>;
}

function bytesFile(name: string, bytes: Uint8Array): RandomAccessFile {
  return {
    name,
    size: bytes.length,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new Error(`${name}: cannot read ${length} bytes at offset ${offset}: the file has ${bytes.length} bytes`);
      }
      // A copy, so that callers may transfer or modify it without touching the source.
      return bytes.slice(offset, offset + length);
    },
  };
}

function decodeText(name: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${name}: not valid UTF-8 text`);
  }
}

export function memorySource(name: string, files: Record<string, Uint8Array | string>): ModelSource {
  const bytesOf = (path: string): Uint8Array | null => {
    if (!Object.hasOwn(files, path)) return null;
    const f = files[path];
    return typeof f === 'string' ? new TextEncoder().encode(f) : f;
  };
  return {
    name,
    async open(path) {
      const b = bytesOf(path);
      return b && bytesFile(path, b);
    },
    async readText(path) {
      const f = Object.hasOwn(files, path) ? files[path] : null;
      return typeof f === 'string' || f === null ? f : decodeText(path, f);
    },
  };
}

/**
 * Files under `baseUrl` (absolute or page-relative). Each file is fetched whole once and kept.
 * Paths are appended segment by segment, URL-encoded, so a path can never leave `baseUrl`'s host.
 */
export function fetchSource(baseUrl: string, init?: { signal?: AbortSignal; fetch?: typeof fetch }): ModelSource {
  // Called as a plain function: browsers throw "Illegal invocation" for fetch bound to another object.
  const doFetch = init?.fetch ?? globalThis.fetch.bind(globalThis);
  const base = baseUrl.replace(/\/+$/, '');
  const cache = new Map<string, Promise<Uint8Array | null>>();

  const urlOf = (path: string) => {
    const rel = path.split('/').map(encodeURIComponent).join('/');
    return base === '' ? rel : `${base}/${rel}`;
  };

  const load = async (path: string): Promise<Uint8Array | null> => {
    const url = urlOf(path);
    let res: Response;
    try {
      res = await doFetch(url, { signal: init?.signal });
    } catch (e) {
      if (init?.signal?.aborted) throw e;
      throw new Error(`GET ${url} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (isNotFound(res, path)) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`);
    return new Uint8Array(await res.arrayBuffer());
  };

  const get = (path: string) => {
    let p = cache.get(path);
    if (!p) {
      p = load(path);
      cache.set(path, p);
      // A failed request (network, abort, 5xx) may succeed later: do not keep the failure.
      p.catch(() => cache.delete(path));
    }
    return p;
  };

  return {
    name: baseUrl,
    async open(path) {
      const b = await get(path);
      return b && bytesFile(path, b);
    },
    async readText(path) {
      const b = await get(path);
      return b && decodeText(urlOf(path), b);
    },
  };
}

/** `file` inside a source named `base` (a folder path or URL, with or without its trailing slash), for messages. */
export function joinPath(base: string, file: string): string {
  return base.endsWith('/') ? base + file : `${base}/${file}`;
}

/**
 * A single-page app's server (Vite's default `appType: 'spa'`, most static hosts with a fallback) answers
 * a missing file with 200 and its index.html: a model file that comes back as HTML is not there, as a 404.
 */
export function isNotFound(res: Response, path: string): boolean {
  return res.status === 404 || (res.ok && /^\s*text\/html\b/i.test(res.headers.get('content-type') ?? '') && !/\.html?$/i.test(path));
}

/** A JSON file of the source, parsed; null when it is missing, an error naming it when it is not JSON. */
export async function readJson(source: ModelSource, file: string): Promise<unknown> {
  const text = await source.readText(file);
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${joinPath(source.name, file)}: not valid JSON (${(e as Error).message})`);
  }
}
