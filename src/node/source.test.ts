import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { nodeSource } from './source';

describe('nodeSource', () => {
  let dir: string;
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lightmoe-source-'));
    await writeFile(path.join(dir, 'data.bin'), bytes);
    await writeFile(path.join(dir, 'config.json'), '{"a": "é"}');
    await writeFile(path.join(dir, 'bad.txt'), Uint8Array.of(0xff, 0xfe));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('ranged reads return exactly the requested bytes', async () => {
    const f = (await nodeSource(dir).open('data.bin'))!;
    expect(f.name).toBe('data.bin');
    expect(f.size).toBe(1000);
    expect(await f.read(10, 5)).toEqual(bytes.slice(10, 15));
    expect(await f.read(0, 1000)).toEqual(bytes);
    expect((await f.read(1000, 0)).length).toBe(0);
  });

  test('reads past the end name the file', async () => {
    const f = (await nodeSource(dir).open('data.bin'))!;
    await expect(f.read(990, 20)).rejects.toThrow(path.join(dir, 'data.bin'));
    await expect(f.read(-1, 2)).rejects.toThrow(/cannot read/);
  });

  test('missing files and folders are null', async () => {
    expect(await nodeSource(dir).open('nope.bin')).toBeNull();
    expect(await nodeSource(dir).readText('nope.json')).toBeNull();
    expect(await nodeSource(path.join(dir, 'no-such-dir')).readText('config.json')).toBeNull();
    expect(await nodeSource(path.join(dir, 'data.bin')).open('x')).toBeNull(); // ENOTDIR
  });

  test('text is UTF-8, strictly', async () => {
    expect(await nodeSource(dir).readText('config.json')).toBe('{"a": "é"}');
    await expect(nodeSource(dir).readText('bad.txt')).rejects.toThrow(`${path.join(dir, 'bad.txt')}: not valid UTF-8`);
  });

  test('paths cannot leave the folder', async () => {
    await expect(nodeSource(dir).open('../etc/passwd')).rejects.toThrow(/must stay inside/);
    await expect(nodeSource(dir).readText('/etc/passwd')).rejects.toThrow(/must stay inside/);
  });
});
