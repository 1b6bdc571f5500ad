/**
 * A coordinator whose shard dies, stalls or refuses it: a clear error naming the shard within the
 * timeout, never a hang; with onShardFailure 'local' the coordinator takes the layers back and the
 * generation goes on, the tokens already produced kept.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { createEngine } from '../node/index';
import { startShardProcess, type ShardProcess } from '../node/testing';

const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');
const stories = path.join(shared, 'models/stories260k');
const hybrid = path.join(shared, 'models/tiny-hybrid-stories');
const TOKEN = 'faults-test-token';

const procs: ShardProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop()));
});

async function shard(dir: string, layers: string): Promise<ShardProcess> {
  const p = await startShardProcess(dir, layers, TOKEN);
  procs.push(p);
  return p;
}

const expected = async () => JSON.parse(await readFile(path.join(stories, 'expected.json'), 'utf8')).dtypes.float32.prompts[0];

/** Generates greedily, calling `after` once `n` tokens have come; returns the tokens and how it ended. */
async function generateUntil(engine: Awaited<ReturnType<typeof createEngine>>, prompt: number[], n: number, after: () => void) {
  const tokens: number[] = [];
  const t0 = performance.now();
  let done = false;
  try {
    for await (const c of engine.generate(prompt, { maxTokens: 48, sampling: { temperature: 0 }, ignoreEos: true })) {
      if (c.token >= 0) tokens.push(c.token);
      if (tokens.length === n && !done) (done = true), after();
    }
    return { tokens, error: null, ms: performance.now() - t0 };
  } catch (e) {
    return { tokens, error: e as Error, ms: performance.now() - t0 };
  }
}

describe('shard faults', () => {
  test('a shard killed mid-generation: the error names it, at once', async () => {
    const p = await shard(stories, '3-4');
    const engine = await createEngine({ model: stories, shards: [{ url: p.url, token: TOKEN }] });
    const r = await generateUntil(engine, (await expected()).input_ids, 5, () => p.child.kill('SIGKILL'));
    expect(r.error?.message).toMatch(new RegExp(`shard ${p.url} .*closed the connection`));
    expect(r.tokens.length).toBeGreaterThanOrEqual(5);
    expect(r.tokens.length).toBeLessThan(48);
    await engine.unload();
  });

  test('a stalled shard: the error names it after the timeout', async () => {
    const p = await shard(stories, '2-4');
    const engine = await createEngine({ model: stories, shards: [{ url: p.url, token: TOKEN }], shardTimeoutMs: 1500 });
    let stopped = 0;
    const r = await generateUntil(engine, (await expected()).input_ids, 3, () => {
      p.child.kill('SIGSTOP');
      stopped = performance.now();
    });
    const waited = performance.now() - stopped;
    expect(r.error?.message).toMatch(new RegExp(`shard ${p.url} did not answer within 1500 ms`));
    expect(waited).toBeLessThan(10_000);
    console.log(`stalled shard reported ${waited.toFixed(0)} ms after it stopped`);
    await engine.unload();
  });

  test("onShardFailure 'local': the layers come back and the story goes on unchanged", async () => {
    const want = await expected();
    const p = await shard(stories, '3-4');
    const engine = await createEngine({ model: stories, shards: [{ url: p.url, token: TOKEN }], onShardFailure: 'local' });
    const r = await generateUntil(engine, want.input_ids, 6, () => p.child.kill('SIGKILL'));
    expect(r.error).toBeNull();
    expect(r.tokens).toEqual(want.greedy_ids.slice(0, 48));
    await engine.unload();
  });

  test('a wrong token, a shard of another model, two shards of one layer: refused at load, named', async () => {
    const p = await shard(stories, '3-4');
    await expect(createEngine({ model: stories, shards: [{ url: p.url, token: 'wrong' }] })).rejects.toThrow(new RegExp(`shard ${p.url}: wrong token`));
    const other = await shard(hybrid, '4-7');
    await expect(createEngine({ model: stories, shards: [{ url: other.url, token: TOKEN }] })).rejects.toThrow(new RegExp(`shard ${other.url} serves another model`));
    const twice = await shard(stories, '2-3');
    await expect(
      createEngine({ model: stories, shards: [{ url: p.url, token: TOKEN }, { url: twice.url, token: TOKEN }] }),
    ).rejects.toThrow(/both serve layer 3/);
    await expect(createEngine({ model: stories, shards: [{ url: 'ws://127.0.0.1:1', token: TOKEN }] })).rejects.toThrow(/shard ws:\/\/127.0.0.1:1 refused the connection/);
    // The shard is still serving after all that.
    const engine = await createEngine({ model: stories, shards: [{ url: p.url, token: TOKEN }] });
    const r = await engine.generate((await expected()).input_ids, { maxTokens: 8, sampling: { temperature: 0 }, ignoreEos: true });
    expect(r.ids).toEqual((await expected()).greedy_ids.slice(0, 8));
    await engine.unload();
  });
});
