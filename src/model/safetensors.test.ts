import { describe, expect, it } from 'vitest';
import { CheckpointError, DTYPE_BYTES, indexCheckpoint, readHeader } from './safetensors';
import { fetchSource, memorySource, type RandomAccessFile } from './source';
import { writeRawSafetensors, writeSafetensors, type TensorData } from './writeSafetensors';

const F = 'model.safetensors';

async function open(bytes: Uint8Array, name = F): Promise<RandomAccessFile> {
  return (await memorySource('mem', { [name]: bytes }).open(name))!;
}

function tensor(dtype: TensorData['dtype'], shape: number[], fill = 0): TensorData {
  const n = shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[dtype];
  return { dtype, shape, data: new Uint8Array(n).fill(fill) };
}

async function headerError(bytes: Uint8Array): Promise<CheckpointError> {
  const err = await readHeader(await open(bytes)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as CheckpointError).file).toBe(F);
  expect((err as Error).message).toContain(F);
  return err as CheckpointError;
}

describe('readHeader', () => {
  it('reads F32, F16 and BF16 tensors with absolute offsets', async () => {
    const bytes = writeSafetensors(
      { a: tensor('BF16', [3, 2], 1), b: tensor('F32', [2, 2], 2), c: tensor('F16', [5], 3), s: tensor('F32', []) },
      { format: 'pt' },
    );
    const infos = await readHeader(await open(bytes));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const byName = Object.fromEntries(infos.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual(['a', 'b', 'c', 's']);
    // Larger dtypes first, then by name: b, s (F32), a, c (16-bit).
    expect(byName.b).toEqual({ name: 'b', dtype: 'F32', shape: [2, 2], file: F, offset: 8 + n, byteLength: 16 });
    expect(byName.s).toMatchObject({ dtype: 'F32', shape: [], offset: 8 + n + 16, byteLength: 4 });
    expect(byName.a).toMatchObject({ dtype: 'BF16', shape: [3, 2], offset: 8 + n + 20, byteLength: 12 });
    expect(byName.c).toMatchObject({ dtype: 'F16', shape: [5], offset: 8 + n + 32, byteLength: 10 });
    for (const [t, fill] of [[byName.a, 1], [byName.b, 2], [byName.c, 3]] as const) {
      expect([...(await (await open(bytes)).read(t.offset, t.byteLength))].every((x) => x === fill)).toBe(true);
    }
  });

  it('accepts zero-sized tensors and an empty header object', async () => {
    expect(await readHeader(await open(writeSafetensors({ z: tensor('F32', [0, 4]), y: tensor('F16', [2]) })))).toHaveLength(2);
    expect(await readHeader(await open(writeRawSafetensors('{}')))).toEqual([]);
  });

  it('refuses a file shorter than 8 bytes', async () => {
    expect((await headerError(new Uint8Array(5))).message).toMatch(/5 bytes.*offset 0/);
  });

  it('refuses header length 0', async () => {
    expect((await headerError(writeRawSafetensors('', new Uint8Array(16)))).message).toMatch(/header length at offset 0 is 0/);
  });

  it('refuses a header length beyond the file, without allocating it', async () => {
    const e = await headerError(writeRawSafetensors('{}', new Uint8Array(0), 1000));
    expect(e.message).toMatch(/header length 1000 at offset 0 runs past the end of the file \(10 bytes\)/);
  });

  it('refuses a header length over 100 MiB and one that needs more than 32 bits', async () => {
    expect((await headerError(writeRawSafetensors('{}', new Uint8Array(0), 200 * 2 ** 20))).message).toMatch(/209715200 at offset 0 exceeds/);
    const huge = writeRawSafetensors('{}');
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n + 5n, true);
    expect((await headerError(huge)).message).toContain(`${2n ** 63n + 5n} at offset 0 exceeds`);
  });

  it('refuses invalid UTF-8 and invalid JSON', async () => {
    const bad = writeRawSafetensors('{"a":1}');
    bad[10] = 0xff;
    expect((await headerError(bad)).message).toMatch(/header \(bytes 8\.\.15\) is not valid UTF-8 JSON/);
    expect((await headerError(writeRawSafetensors('{"a": '))).message).toMatch(/not valid UTF-8 JSON/);
  });

  it.each(['[]', 'null', '"x"', '12'])('refuses a header %s that is not an object', async (h) => {
    expect((await headerError(writeRawSafetensors(h))).message).toMatch(/is not a JSON object/);
  });

  const one = (entry: unknown, dataLen = 16, extra: Record<string, unknown> = {}) =>
    writeRawSafetensors(JSON.stringify({ ...extra, 'w.0': entry }), new Uint8Array(dataLen));

  it.each([
    ['F64', /unsupported dtype "F64"/],
    ['I32', /unsupported dtype "I32"/],
    ['Q4', /unknown dtype "Q4"/],
    [7, /unknown dtype 7/],
    ['toString', /unknown dtype "toString"/],
  ])('refuses dtype %s, naming it', async (dtype, re) => {
    const e = await headerError(one({ dtype, shape: [2], data_offsets: [0, 16] }));
    expect(e.message).toMatch(re);
    expect(e.message).toContain('tensor "w.0"');
    expect(e.tensor).toBe('w.0');
  });

  it.each([
    ['a non-array shape', { dtype: 'F32', shape: 4, data_offsets: [0, 16] }, /shape must be/],
    ['a negative dim', { dtype: 'F32', shape: [-4], data_offsets: [0, 16] }, /shape must be/],
    ['a fractional dim', { dtype: 'F32', shape: [2.5], data_offsets: [0, 10] }, /shape must be/],
    ['an unsafe dim', { dtype: 'F32', shape: [2 ** 60], data_offsets: [0, 16] }, /shape must be/],
    ['no data_offsets', { dtype: 'F32', shape: [4] }, /data_offsets must be/],
    ['three data_offsets', { dtype: 'F32', shape: [4], data_offsets: [0, 8, 16] }, /data_offsets must be/],
    ['begin > end', { dtype: 'F32', shape: [0], data_offsets: [8, 4] }, /data_offsets must be/],
    ['a non-object entry', 'F32', /entry is not an object/],
  ])('refuses %s', async (_, entry, re) => {
    const e = await headerError(one(entry));
    expect(e.message).toMatch(re);
    expect(e.message).toContain(`${F}: tensor "w.0"`);
  });

  it('refuses data beyond the data section, with the absolute offset', async () => {
    const bytes = one({ dtype: 'F32', shape: [8], data_offsets: [0, 32] });
    const dataStart = bytes.length - 16;
    const e = await headerError(bytes);
    expect(e.message).toContain('tensor "w.0"');
    expect(e.message).toContain(`bytes ${dataStart}..${dataStart + 32}`);
    expect(e.message).toMatch(/beyond the data section \(16 bytes/);
  });

  it('refuses a byte length that does not match the shape', async () => {
    const bytes = one({ dtype: 'BF16', shape: [3, 2], data_offsets: [4, 14] });
    const e = await headerError(bytes);
    expect(e.message).toContain('tensor "w.0"');
    expect(e.message).toContain(`offset ${bytes.length - 16 + 4}`);
    expect(e.message).toContain('hold 10 bytes, but shape [3,2] of BF16 needs 12');
  });

  it('refuses a shape whose size overflows', async () => {
    const e = await headerError(one({ dtype: 'F32', shape: [2 ** 40, 2 ** 40, 2], data_offsets: [0, 16] }));
    expect(e.message).toMatch(/hold 16 bytes, but shape .* needs Infinity/);
  });

  it('refuses overlapping tensors, naming both', async () => {
    const h = JSON.stringify({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      c: { dtype: 'F32', shape: [2], data_offsets: [12, 20] },
      b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
    });
    const bytes = writeRawSafetensors(h, new Uint8Array(24));
    const ds = bytes.length - 24;
    const e = await headerError(bytes);
    expect(e.tensor).toBe('c');
    expect(e.message).toContain(`tensor "c": bytes ${ds + 12}..${ds + 20} overlap tensor "b" (bytes ${ds + 8}..${ds + 16})`);
  });

  it('skips __metadata__', async () => {
    const infos = await readHeader(await open(one({ dtype: 'F32', shape: [4], data_offsets: [0, 16] }, 16, { __metadata__: { format: 'pt' } })));
    expect(infos.map((t) => t.name)).toEqual(['w.0']);
  });

  it('read past the end names the file', async () => {
    const f = await open(new Uint8Array(10), 'x.bin');
    await expect(f.read(4, 7)).rejects.toThrow(/x\.bin.*7 bytes at offset 4/);
  });
});

describe('indexCheckpoint', () => {
  const tensors = {
    'model.embed_tokens.weight': tensor('BF16', [10, 4]),
    'model.norm.weight': tensor('BF16', [4]),
    'model.layers.0.block_sparse_moe.gate.weight': tensor('F32', [3, 4]),
    'lm_head.weight': tensor('BF16', [10, 4]),
  };
  const names = Object.keys(tensors);
  const shardA = 'model-00001-of-00002.safetensors';
  const shardB = 'model-00002-of-00002.safetensors';
  const pick = (ns: string[]) => writeSafetensors(Object.fromEntries(ns.map((n) => [n, tensors[n as keyof typeof tensors]])));
  const weightMap = Object.fromEntries(names.map((n, i) => [n, i < 2 ? shardA : shardB]));
  const sharded = (wm: unknown = weightMap, extra: Record<string, Uint8Array> = {}) =>
    memorySource('mem:/sharded', {
      'model.safetensors.index.json': JSON.stringify({ metadata: { total_size: 1 }, weight_map: wm }),
      [shardA]: pick(names.slice(0, 2)),
      [shardB]: pick(names.slice(2)),
      ...extra,
    });

  it('reads a single model.safetensors', async () => {
    const map = await indexCheckpoint(memorySource('mem', { 'model.safetensors': pick(names) }));
    expect([...map.keys()].sort()).toEqual([...names].sort());
    expect(map.get('model.layers.0.block_sparse_moe.gate.weight')).toMatchObject({ dtype: 'F32', shape: [3, 4], file: F });
  });

  it('reads a sharded checkpoint through its index', async () => {
    const map = await indexCheckpoint(sharded());
    expect([...map.keys()].sort()).toEqual([...names].sort());
    for (const n of names) expect(map.get(n)!.file).toBe(weightMap[n]);
    // Data offsets stay per file: the first tensor of each shard starts right after its header.
    const b = map.get('model.layers.0.block_sparse_moe.gate.weight')!;
    const file = (await sharded().open(shardB))!;
    const n = Number(new DataView((await file.read(0, 8)).buffer).getBigUint64(0, true));
    expect(b.offset).toBe(8 + n);
  });

  it('neither file → an error naming the source', async () => {
    await expect(indexCheckpoint(memorySource('some/folder', { 'config.json': '{}' }))).rejects.toThrow(
      /neither model\.safetensors\.index\.json nor model\.safetensors exists in some\/folder/,
    );
  });

  it('a missing shard is named', async () => {
    const src = memorySource('mem', {
      'model.safetensors.index.json': JSON.stringify({ weight_map: weightMap }),
      [shardA]: pick(names.slice(0, 2)),
    });
    await expect(indexCheckpoint(src)).rejects.toThrow(new RegExp(`names shard ${shardB}, which does not exist in mem`));
  });

  it('a tensor not in the shard the index names', async () => {
    const wm = { ...weightMap, 'lm_head.weight': shardA };
    const e: unknown = await indexCheckpoint(sharded(wm)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).tensor).toBe('lm_head.weight');
    expect((e as Error).message).toContain(`puts tensor "lm_head.weight" in ${shardA}, but it is in ${shardB}`);
  });

  it('a tensor listed in the index but in no shard', async () => {
    await expect(indexCheckpoint(sharded({ ...weightMap, 'ghost.weight': shardB }))).rejects.toThrow(
      `${shardB}: tensor "ghost.weight" listed in model.safetensors.index.json is not in that shard`,
    );
  });

  it('the same tensor in two shards', async () => {
    const src = memorySource('mem', {
      'model.safetensors.index.json': JSON.stringify({ weight_map: weightMap }),
      [shardA]: pick(names.slice(0, 2)),
      [shardB]: pick(names.slice(1)),
    });
    await expect(indexCheckpoint(src)).rejects.toThrow(`${shardB}: tensor "model.norm.weight" is also in ${shardA}`);
  });

  it.each([
    ['not JSON', '{"weight_map": ', /model\.safetensors\.index\.json: not valid JSON/],
    ['no weight_map', '{"metadata": {}}', /"weight_map" must be an object/],
    ['weight_map an array', '{"weight_map": ["a"]}', /"weight_map" must be an object/],
    ['a non-string shard', '{"weight_map": {"a": 3}}', /tensor "a": shard must be a file name, got 3/],
    ['a parent-folder shard', '{"weight_map": {"a": "../secret.safetensors"}}', /tensor "a": shard file name "..\/secret.safetensors" leaves the model folder/],
    ['an absolute shard', '{"weight_map": {"a": "/etc/x.safetensors"}}', /leaves the model folder/],
  ])('refuses an index with %s', async (_, text, re) => {
    const src = memorySource('mem', { 'model.safetensors.index.json': text, [F]: pick(names) });
    await expect(indexCheckpoint(src)).rejects.toThrow(re);
  });

  it('reports a hostile shard header with the shard name', async () => {
    const bad = writeRawSafetensors(JSON.stringify({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }), new Uint8Array(8));
    const src = sharded({ ...weightMap, x: shardB }, { [shardB]: bad });
    await expect(indexCheckpoint(src)).rejects.toThrow(new RegExp(`^${shardB}: tensor "x": .*beyond the data section`));
  });
});

describe('fetchSource', () => {
  const files: Record<string, Uint8Array> = {
    'https://host/m/model.safetensors': writeSafetensors({ w: tensor('F32', [4], 7) }),
    'https://host/m/config.json': new TextEncoder().encode('{"a": 1}'),
    'https://host/m/a%20b/x.json': new TextEncoder().encode('spaced'),
  };
  const fake = () => {
    const calls: string[] = [];
    const f = (async (url: string | URL | Request) => {
      const u = String(url);
      calls.push(u);
      if (u.endsWith('/broken')) return new Response('no', { status: 500, statusText: 'Internal Server Error' });
      const b = files[u];
      return b ? new Response(b.slice()) : new Response('missing', { status: 404 });
    }) as typeof fetch;
    return { f, calls };
  };

  it('fetches each file once, and indexes a checkpoint over HTTP', async () => {
    const { f, calls } = fake();
    const src = fetchSource('https://host/m/', { fetch: f });
    expect(await src.readText('config.json')).toBe('{"a": 1}');
    const map = await indexCheckpoint(src);
    const w = map.get('w')!;
    const file = (await src.open('model.safetensors'))!;
    expect([...(await file.read(w.offset, w.byteLength))].every((x) => x === 7)).toBe(true);
    expect(calls.filter((u) => u.endsWith('/model.safetensors'))).toHaveLength(1);
    expect(calls).toContain('https://host/m/model.safetensors.index.json');
  });

  it('404 → null; other statuses → an error naming the URL and status', async () => {
    const src = fetchSource('https://host/m', { fetch: fake().f });
    expect(await src.open('nope.bin')).toBeNull();
    expect(await src.readText('nope.json')).toBeNull();
    await expect(src.open('broken')).rejects.toThrow('GET https://host/m/broken: HTTP 500 Internal Server Error');
  });

  it('encodes path segments', async () => {
    const src = fetchSource('https://host/m', { fetch: fake().f });
    expect(await src.readText('a b/x.json')).toBe('spaced');
  });

  it('a read beyond the size names the file', async () => {
    const file = (await fetchSource('https://host/m', { fetch: fake().f }).open('config.json'))!;
    expect(file.size).toBe(8);
    await expect(file.read(6, 4)).rejects.toThrow(/config\.json: cannot read 4 bytes at offset 6/);
  });

  it('network errors name the URL and are not cached', async () => {
    let fail = true;
    const f = (async () => {
      if (fail) throw new TypeError('fetch failed');
      return new Response('ok');
    }) as typeof fetch;
    const src = fetchSource('https://host/m', { fetch: f });
    await expect(src.readText('x.txt')).rejects.toThrow('GET https://host/m/x.txt failed: fetch failed');
    fail = false;
    expect(await src.readText('x.txt')).toBe('ok');
  });
});
