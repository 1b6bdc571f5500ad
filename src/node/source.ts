/** A model folder on the local disk, read with ranged reads so that multi-GB shards never sit in memory whole. */
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelSource, RandomAccessFile } from '../model/source';

// Node caps one read at 2 GiB - 1; larger tensors are read in pieces.
const MAX_READ = 1 << 30;

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function nodeSource(dir: string): ModelSource {
  // Paths come from files inside the folder (e.g. a shard index): they must not reach outside it.
  const resolve = (rel: string): string => {
    if (path.isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) {
      throw new Error(`${path.join(dir, rel)}: paths must stay inside ${dir}`);
    }
    return path.join(dir, rel);
  };

  return {
    name: dir,

    async open(rel) {
      const file = resolve(rel);
      let size: number;
      try {
        const s = await stat(file);
        if (!s.isFile()) throw new Error('not a regular file');
        size = s.size;
      } catch (e) {
        if (isMissing(e)) return null;
        throw new Error(`${file}: ${describe(e)}`, { cause: e });
      }
      return diskFile(rel, file, size);
    },

    async readText(rel) {
      const file = resolve(rel);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(file);
      } catch (e) {
        if (isMissing(e)) return null;
        throw new Error(`${file}: ${describe(e)}`, { cause: e });
      }
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new Error(`${file}: not valid UTF-8 text`);
      }
    },
  };
}

function diskFile(name: string, file: string, size: number): RandomAccessFile {
  return {
    name,
    size,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new Error(`${file}: cannot read ${length} bytes at offset ${offset}: the file has ${size} bytes`);
      }
      const out = new Uint8Array(length);
      // One handle per read: nothing to close later, and an open is cheap next to a tensor read.
      let fh;
      try {
        fh = await open(file, 'r');
        for (let done = 0; done < length; ) {
          const { bytesRead } = await fh.read(out, done, Math.min(length - done, MAX_READ), offset + done);
          if (bytesRead === 0) throw new Error(`file ended at ${offset + done} bytes; expected ${size}`);
          done += bytesRead;
        }
      } catch (e) {
        throw new Error(`${file}: read of ${length} bytes at offset ${offset} failed: ${describe(e)}`, { cause: e });
      } finally {
        await fh?.close();
      }
      return out;
    },
  };
}
