/**
 * A model folder on an HTTP server, read the way a download needs it: safetensors headers through Range
 * requests, so validating a checkpoint costs kilobytes, and the data later by ranges or, where the server
 * ignores Range, by one streamed GET per file.
 */
import { isNotFound, type ModelSource, type RandomAccessFile } from '../model/source';

export interface RemoteFile {
  path: string;
  url: string;
  size: number;
  /** Whether the server answered a Range request with 206. */
  ranges: boolean;
  /** The server's ETag, if any: a changed one means the file changed and a resume must start over. */
  etag: string | null;
}

export interface Remote {
  source: ModelSource;
  /** Files opened through `source`, by path. */
  files: Map<string, RemoteFile>;
  /** Bytes [start, end) of a file that supports Range. */
  range(file: RemoteFile, start: number, end: number): Promise<Uint8Array>;
  /** A plain GET of the whole file; the caller reads (or cancels) the body. */
  stream(file: RemoteFile): Promise<ReadableStreamDefaultReader<Uint8Array>>;
}

/** Tries of one range before the download fails: a dropped connection or a cut body is tried again. */
const RANGE_TRIES = 3;

/** A failure that another try may not have: the network, a cut body, a busy or failing server. */
class TransientError extends Error {}

/** How much of a file's start a server without Range has to send before we cancel: enough for a typical header. */
const PREFIX_BYTES = 1 << 20;

export function remoteModel(baseUrl: string, fetchFn: typeof fetch, signal?: AbortSignal): Remote {
  const base = baseUrl.replace(/\/+$/, '');
  const urlOf = (path: string) => (base === '' ? '' : base + '/') + path.split('/').map(encodeURIComponent).join('/');
  const files = new Map<string, RemoteFile>();
  const texts = new Map<string, Promise<string | null>>();

  const get = async (url: string, headers?: Record<string, string>): Promise<Response> => {
    try {
      return await fetchFn(url, { signal, headers });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new Error(`GET ${url} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  const httpError = (url: string, res: Response, what = '') => new Error(`GET ${url}${what}: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`);

  const rangeOnce = async (file: RemoteFile, start: number, end: number, retry: boolean): Promise<Uint8Array> => {
    let res: Response;
    try {
      // A try again skips the HTTP cache, in case the cut response left a broken entry there.
      res = await fetchFn(file.url, { signal, headers: { Range: `bytes=${start}-${end - 1}` }, ...(retry ? { cache: 'no-store' as const } : {}) });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new TransientError(`GET ${file.url} bytes ${start}..${end} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (res.status !== 206) {
      await res.body?.cancel();
      if (res.ok) throw new Error(`GET ${file.url} bytes ${start}..${end}: the server answered with the whole file (HTTP ${res.status}) although it honoured Range before`);
      const e = httpError(file.url, res, ` bytes ${start}..${end}`);
      throw res.status >= 500 || res.status === 408 || res.status === 429 ? new TransientError(e.message) : e;
    }
    const cr = parseContentRange(res.headers.get('content-range'));
    if (!cr || cr.start !== start || cr.end !== end) throw new Error(`GET ${file.url}: asked for bytes ${start}..${end}, got Content-Range ${res.headers.get('content-range')}`);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new TransientError(`GET ${file.url} bytes ${start}..${end}: the body was cut (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
    if (bytes.length !== end - start) throw new TransientError(`GET ${file.url}: expected ${end - start} bytes at ${start}, got ${bytes.length}`);
    return bytes;
  };

  /** One range, tried again (after 0.25 s, then 0.5 s) while it fails in a way another try may not. */
  const range = async (file: RemoteFile, start: number, end: number): Promise<Uint8Array> => {
    for (let i = 0; ; i++) {
      try {
        return await rangeOnce(file, start, end, i > 0);
      } catch (e) {
        if (!(e instanceof TransientError) || i + 1 >= RANGE_TRIES) throw e instanceof TransientError ? new Error(`${e.message} (${RANGE_TRIES} tries)`, { cause: e.cause }) : e;
        await sleep(250 * 2 ** i, signal);
      }
    }
  };

  const stream = async (file: RemoteFile) => {
    const res = await get(file.url);
    if (!res.ok || !res.body) throw httpError(file.url, res);
    return res.body.getReader();
  };

  /** The first `n` or more bytes of a response body; the rest is not downloaded. */
  const prefix = async (res: Response, n: number): Promise<Uint8Array> => {
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      have += value.length;
    }
    await reader.cancel();
    const out = new Uint8Array(have);
    let o = 0;
    for (const c of chunks) out.set(c, (o += c.length) - c.length);
    return out;
  };

  const open = async (path: string): Promise<RandomAccessFile | null> => {
    const url = urlOf(path);
    const res = await get(url, { Range: 'bytes=0-7' });
    if (isNotFound(res, path)) {
      await res.body?.cancel();
      return null;
    }
    let head: Uint8Array;
    let file: RemoteFile;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== 0 || cr.size === null) throw new Error(`GET ${url}: HTTP 206 without a usable Content-Range (${res.headers.get('content-range')})`);
      file = { path, url, size: cr.size, ranges: true, etag: res.headers.get('etag') };
      head = new Uint8Array(await res.arrayBuffer());
    } else if (res.ok) {
      // Content-Length counts encoded bytes when the body is compressed, so it is the size only without encoding.
      const len = res.headers.get('content-encoding') ? null : res.headers.get('content-length');
      if (len === null || !/^\d+$/.test(len)) {
        await res.body?.cancel();
        throw new Error(`GET ${url}: the server ignores Range and does not say the file's size (no Content-Length), so it cannot be stored`);
      }
      file = { path, url, size: Number(len), ranges: false, etag: res.headers.get('etag') };
      head = await prefix(res, PREFIX_BYTES);
    } else {
      await res.body?.cancel();
      throw httpError(url, res);
    }
    files.set(path, file);
    return {
      name: path,
      size: file.size,
      async read(offset, length) {
        if (offset < 0 || length < 0 || offset + length > file.size) throw new Error(`${path}: cannot read ${length} bytes at offset ${offset}: the file has ${file.size} bytes`);
        if (offset + length <= head.length) return head.slice(offset, offset + length);
        if (file.ranges) return range(file, offset, offset + length);
        // Without Range only a prefix can be had: take it again, longer.
        const res = await get(url);
        if (!res.ok) throw httpError(url, res);
        head = await prefix(res, offset + length);
        if (offset + length > head.length) throw new Error(`GET ${url}: the body ended after ${head.length} bytes; the file was said to have ${file.size}`);
        return head.slice(offset, offset + length);
      },
    };
  };

  const readText = (path: string): Promise<string | null> => {
    let t = texts.get(path);
    if (!t) {
      t = (async () => {
        const url = urlOf(path);
        const res = await get(url);
        if (isNotFound(res, path)) {
          await res.body?.cancel();
          return null;
        }
        if (!res.ok) throw httpError(url, res);
        try {
          return new TextDecoder('utf-8', { fatal: true }).decode(await res.arrayBuffer());
        } catch {
          throw new Error(`${url}: not valid UTF-8 text`);
        }
      })();
      texts.set(path, t);
      t.catch(() => texts.delete(path));
    }
    return t;
  };

  return { source: { name: baseUrl, open, readText }, files, range, stream };
}

function parseContentRange(h: string | null): { start: number; end: number; size: number | null } | null {
  const m = h && /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(h.trim());
  return m ? { start: Number(m[1]), end: Number(m[2]) + 1, size: m[3] === '*' ? null : Number(m[3]) } : null;
}

/** Waits `ms`, or rejects at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', stop);
      resolve();
    }
    function stop() {
      clearTimeout(t);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', stop, { once: true });
  });
}
