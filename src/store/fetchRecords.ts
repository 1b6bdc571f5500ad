/** Bringing records' bytes over HTTP: by Range requests, or by streaming whole files and cutting records as bytes pass. */
import type { RecordPlan } from './layout';
import type { Remote, RemoteFile } from './remote';

/** Takes a finished record; the next one is fetched or cut only when this resolves, which bounds memory. */
export type Deliver = (record: number, bytes: Uint8Array) => Promise<void>;

/** Gaps up to this between a record's segments are fetched rather than paying for another request. */
const MERGE_GAP = 64 * 1024;

function fileOf(remote: Remote, path: string): RemoteFile {
  const f = remote.files.get(path);
  if (!f) throw new Error(`${path} was not opened while reading the headers`);
  return f;
}

async function fetchRecord(remote: Remote, rec: RecordPlan): Promise<Uint8Array> {
  const out = new Uint8Array(rec.size);
  const placed: { file: string; offset: number; length: number; at: number }[] = [];
  let at = 0;
  for (const s of rec.segments) {
    placed.push({ ...s, at });
    at += s.length;
  }
  // Segments of one file that lie close together (w1, w2, w3 of an expert are adjacent) come in one request.
  placed.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.offset - b.offset));
  const groups: { file: string; start: number; end: number; segs: typeof placed }[] = [];
  for (const s of placed) {
    const g = groups.at(-1);
    if (g && g.file === s.file && s.offset - g.end <= MERGE_GAP) {
      g.segs.push(s);
      g.end = Math.max(g.end, s.offset + s.length);
    } else groups.push({ file: s.file, start: s.offset, end: s.offset + s.length, segs: [s] });
  }
  await Promise.all(
    groups.map(async (g) => {
      const bytes = await remote.range(fileOf(remote, g.file), g.start, g.end);
      for (const s of g.segs) out.set(bytes.subarray(s.offset - g.start, s.offset - g.start + s.length), s.at);
    }),
  );
  return out;
}

/**
 * Fetches the records `todo` by ranges, `concurrency` at a time. The first failure calls `fail`, which should
 * abort the requests of the other workers; all have stopped when this rejects.
 */
export async function fetchByRanges(remote: Remote, records: RecordPlan[], todo: number[], deliver: Deliver, concurrency: number, fail: (e: unknown) => void): Promise<void> {
  let next = 0;
  let failed = false;
  let first: unknown;
  const worker = async () => {
    while (!failed && next < todo.length) {
      const n = todo[next++];
      try {
        await deliver(n, await fetchRecord(remote, records[n]));
      } catch (e) {
        if (!failed) {
          failed = true;
          first = e;
          fail(e);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  if (failed) throw first;
}

interface Placed {
  offset: number;
  length: number;
  record: number;
  at: number;
}

/**
 * For servers without Range: streams each file that holds bytes of `todo` once, from its start, and copies
 * the bytes of those records as they pass. A record is in memory only from its first byte to its last.
 */
export async function fetchByStreaming(remote: Remote, records: RecordPlan[], todo: number[], deliver: Deliver): Promise<void> {
  const perFile = new Map<string, Placed[]>();
  for (const n of todo) {
    let at = 0;
    for (const s of records[n].segments) {
      let list = perFile.get(s.file);
      if (!list) perFile.set(s.file, (list = []));
      list.push({ offset: s.offset, length: s.length, record: n, at });
      at += s.length;
    }
  }
  const open = new Map<number, { bytes: Uint8Array; filled: number }>();

  for (const [path, segs] of perFile) {
    segs.sort((a, b) => a.offset - b.offset);
    const file = fileOf(remote, path);
    const reader = await remote.stream(file);
    let finished = false;
    try {
      let pos = 0;
      let first = 0; // segments before it have passed completely
      while (first < segs.length) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`GET ${file.url}: the body ended after ${pos} bytes; the file has ${file.size}`);
        const end = pos + value.length;
        for (let j = first; j < segs.length && segs[j].offset < end; j++) {
          const s = segs[j];
          const lo = Math.max(s.offset, pos);
          const hi = Math.min(s.offset + s.length, end);
          if (hi <= lo) continue;
          let r = open.get(s.record);
          if (!r) open.set(s.record, (r = { bytes: new Uint8Array(records[s.record].size), filled: 0 }));
          r.bytes.set(value.subarray(lo - pos, hi - pos), s.at + (lo - s.offset));
          r.filled += hi - lo;
          if (r.filled === r.bytes.length) {
            open.delete(s.record);
            await deliver(s.record, r.bytes);
          }
        }
        while (first < segs.length && segs[first].offset + segs[first].length <= end) first++;
        pos = end;
      }
      finished = pos >= file.size;
    } finally {
      // Stop the transfer once the last needed byte of the file has passed (or on an error).
      if (!finished) await reader.cancel().catch(() => {});
    }
  }
  if (open.size) throw new Error(`records ${[...open.keys()].map((n) => records[n].label).join(', ')} were not complete at the end of the files`);
}
