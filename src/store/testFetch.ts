/** fetch wrappers for the model store tests: count what goes over the wire, or play a server without Range. */

export interface FetchLog {
  fetch: typeof fetch;
  requests: { url: string; range: string | null; status: number; bytes: number }[];
  /** Body bytes read by the client, per URL suffix. */
  bytesOf(suffix: string): number;
}

/** The real fetch, logged; with `noRange` the Range header is dropped, so the server answers 200 with the whole file. */
export function loggingFetch(opts: { noRange?: boolean } = {}): FetchLog {
  const requests: FetchLog['requests'] = [];
  const doFetch: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    if (opts.noRange) headers.delete('Range');
    const res = await fetch(input, { ...init, headers });
    const entry = { url: String(input), range: headers.get('Range'), status: res.status, bytes: 0 };
    requests.push(entry);
    if (!res.body) return res;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          entry.bytes += chunk.length;
          c.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return { fetch: doFetch, requests, bytesOf: (suffix) => requests.filter((r) => r.url.endsWith(suffix)).reduce((s, r) => s + r.bytes, 0) };
}

/** A server of in-memory files under `base`, with or without Range support. */
export function memoryFetch(base: string, files: Record<string, Uint8Array | string>, opts: { ranges: boolean }): FetchLog {
  const requests: FetchLog['requests'] = [];
  const doFetch: typeof fetch = async (input, init) => {
    init?.signal?.throwIfAborted();
    const url = String(input);
    const path = url.startsWith(base) ? decodeURIComponent(url.slice(base.length)) : '';
    const range = new Headers(init?.headers).get('Range');
    const f = Object.hasOwn(files, path) ? files[path] : null;
    const entry = { url, range, status: 404, bytes: 0 };
    requests.push(entry);
    if (f === null) return new Response('not found', { status: 404 });
    const bytes = typeof f === 'string' ? new TextEncoder().encode(f) : f;
    const m = range && opts.ranges ? /^bytes=(\d+)-(\d+)$/.exec(range) : null;
    if (m) {
      const start = Number(m[1]);
      const end = Math.min(Number(m[2]) + 1, bytes.length);
      entry.status = 206;
      entry.bytes = end - start;
      return new Response(bytes.slice(start, end), { status: 206, headers: { 'Content-Range': `bytes ${start}-${end - 1}/${bytes.length}` } });
    }
    entry.status = 200;
    // Counted as the client reads, in 64 KiB pieces, like a network stream.
    let pos = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pos >= bytes.length) return c.close();
        const piece = bytes.slice(pos, pos + 65536);
        pos += piece.length;
        entry.bytes += piece.length;
        c.enqueue(piece);
      },
    });
    return new Response(body, { status: 200, headers: { 'Content-Length': String(bytes.length) } });
  };
  return { fetch: doFetch, requests, bytesOf: (suffix) => requests.filter((r) => r.url.endsWith(suffix)).reduce((s, r) => s + r.bytes, 0) };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
