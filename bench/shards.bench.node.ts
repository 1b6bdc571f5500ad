/**
 * bench:node, shards: what a hop between executors costs a decoded token. stories260k and
 * tiny-hybrid-stories decode 64 greedy tokens on one device (token by token, as a split model goes,
 * and in GPU-side chains), over 2 devices of this process, over a device and a `lightmoe shard`
 * process on loopback, and over 2 shard processes. Writes bench-shards.json.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket as WsWebSocket } from 'ws';
import { it } from 'vitest';
import { openCheckpoint } from '../src/model/checkpoint';
import { Model } from '../src/engine/model';
import type { LanguageModel } from '../src/engine/languageModel';
import { nodeGpuDevice } from '../src/node/gpu';
import { nodeSource } from '../src/node/source';
import { startShardProcess, type ServerProcess } from '../src/node/testing';
import { loadSharded, type ShardingOptions } from '../src/shard/coordinator';
import type { WebSocketClass } from '../src/shard/remoteExecutor';

const shared = path.resolve(fileURLToPath(new URL('..', import.meta.url)), '../shared');
const TOKENS = 64;
const TOKEN = 'bench-token';

/** ms per decoded token after the prompt (best of 3 runs), and the ids (checked equal across setups). */
async function decode(model: LanguageModel, prompt: number[], chained: boolean): Promise<{ ms: number; ids: number[] }> {
  let best = Infinity;
  let ids: number[] = [];
  for (let run = 0; run < 3; run++) {
    await model.reset();
    const first = await model.nextToken(prompt);
    const t0 = performance.now();
    ids = [first];
    if (chained) ids.push(...(await model.greedyTokens([first], TOKENS - 1)));
    else while (ids.length < TOKENS) ids.push(await model.nextToken([ids[ids.length - 1]]));
    best = Math.min(best, (performance.now() - t0) / (TOKENS - 1));
  }
  return { ms: best, ids };
}

it('shards: ms per token and per hop, loopback', async () => {
  const rows: { model: string; setup: string; executors: string; hops: number; 'ms/token': number; 'ms/hop': number | null }[] = [];
  const procs: ServerProcess[] = [];
  for (const name of ['stories260k', 'tiny-hybrid-stories']) {
    const dir = path.join(shared, 'models', name);
    const ckpt = await openCheckpoint(nodeSource(dir));
    const L = ckpt.config.numLayers;
    const mid = Math.ceil(L / 2);
    const prompt = [1, 403, 407, 261, 378, 435, 267];
    const device = await nodeGpuDevice();
    const whole = await Model.fromCheckpoint(ckpt, device);
    const chain = await decode(whole, prompt, true);
    const single = await decode(whole, prompt, false);
    whole.destroy();
    device.destroy();
    rows.push({ model: name, setup: 'one device, GPU chains of greedy tokens', executors: 'device 0', hops: 0, 'ms/token': chain.ms, 'ms/hop': null });
    rows.push({ model: name, setup: 'one device, token by token', executors: 'device 0', hops: 0, 'ms/token': single.ms, 'ms/hop': null });
    const [a, b, c] = await Promise.all([startShardProcess(dir, `${mid}-${L - 1}`, TOKEN), startShardProcess(dir, `0-${mid - 1}`, TOKEN), startShardProcess(dir, `${mid}-${L - 1}`, TOKEN)]);
    procs.push(a, b, c);
    const setups: [string, ShardingOptions][] = [
      ['2 devices of this process', { devices: 2 }],
      ['a device and a shard process (loopback)', { shards: [{ url: a.url, token: TOKEN }] }],
      ['2 shard processes (loopback)', { shards: [{ url: b.url, token: TOKEN }, { url: c.url, token: TOKEN }] }],
    ];
    for (const [setup, opts] of setups) {
      const model = await loadSharded(ckpt, { ...opts, model: {}, getDevice: nodeGpuDevice, WebSocket: WsWebSocket as unknown as WebSocketClass });
      const r = await decode(model, prompt, false);
      if (r.ids.join() !== single.ids.join()) throw new Error(`${name} over ${setup}: other ids than one device`);
      // A token crosses each boundary between executors, and the coordinator's own hops to a shard and back.
      const remote = model.executors.filter((e) => e.name.startsWith('shard')).length;
      const hops = model.executors.length - 1 + (remote === model.executors.length ? 1 : 0);
      rows.push({ model: name, setup, executors: model.executors.map((e) => `${e.name} ${e.layers.from}-${e.layers.to - 1}`).join(', '), hops, 'ms/token': r.ms, 'ms/hop': (r.ms - single.ms) / hops });
      await model.destroy();
    }
  }
  await Promise.all(procs.map((p) => p.stop()));
  const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(3));
  console.log(
    `shards (Node ${process.version}, Dawn; ${TOKENS} greedy tokens, best of 3):\n` +
      rows.map((r) => `${r.model.padEnd(20)} ${r.setup.padEnd(42)} hops ${r.hops}  ${fmt(r['ms/token']).padStart(7)} ms/token  ${fmt(r['ms/hop']).padStart(7)} ms/hop`).join('\n'),
  );
  writeFileSync('bench-shards.json', JSON.stringify({ node: process.version, tokens: TOKENS, rows }, null, 2) + '\n');
});
