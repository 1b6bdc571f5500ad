/** Model folders the user picked: a directory handle (File System Access API) or a list of files. */
import type { ModelSource, RandomAccessFile } from './source';

function fileReader(name: string, file: File): RandomAccessFile {
  return {
    name,
    size: file.size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > file.size)
        throw new Error(`${name}: cannot read ${length} bytes at offset ${offset}: the file has ${file.size} bytes`);
      // Blob.slice reads only the range: a multi-GB shard never sits in memory whole.
      return new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
    },
  };
}

function fromLookup(name: string, lookup: (path: string) => Promise<File | null>): ModelSource {
  return {
    name,
    async open(path) {
      const f = await lookup(path);
      return f ? fileReader(path, f) : null;
    },
    async readText(path) {
      const f = await lookup(path);
      return f ? f.text() : null;
    },
  };
}

/** Files from `<input type=file webkitdirectory>` or a drop: matched by path below the picked folder, or by name. */
export function filesSource(files: File[], name = 'selected files'): ModelSource {
  const byPath = new Map<string, File>();
  for (const f of files) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
    byPath.set(rel ? rel.split('/').slice(1).join('/') : f.name, f);
  }
  return fromLookup(name, async (path) => byPath.get(path) ?? null);
}

/** A folder from showDirectoryPicker(). */
export function directorySource(dir: FileSystemDirectoryHandle): ModelSource {
  return fromLookup(dir.name, async (path) => {
    try {
      let d = dir;
      const parts = path.split('/');
      for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p);
      return await (await d.getFileHandle(parts[parts.length - 1])).getFile();
    } catch (e) {
      if ((e as DOMException).name === 'NotFoundError' || (e as DOMException).name === 'TypeError') return null;
      throw e;
    }
  });
}
