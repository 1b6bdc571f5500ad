/** The `lightmoe` command: prefill logits and greedy generation from a model folder, on Dawn's WebGPU. */
import { copyFile, mkdir, open, readdir, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { inspect } from 'node:util';
import { EngineCore } from '../engine/core';
import { parseCommand, UsageError, USAGE, type Command, type IdsArg, type LoadArgs } from './args';
import { nodeGpuDevice } from './gpu';
import { nodeSource } from './source';
import { makeDefaultModel } from '../model/defaultModel';
import { memorySource, readJson } from '../model/source';
import { openCheckpoint } from '../model/checkpoint';
import { quantizeCheckpoint } from '../model/quantizeCheckpoint';
import { INDEX_FILE } from '../model/safetensors';
import { parseConfig } from '../model/config';
import { Model } from '../engine/model';
import { WebSocket as WsWebSocket } from 'ws';
import { startShardServer } from './shardServer';
import { startOpenAIServer } from './openaiServer';
import { createEngine } from './index';
import { DEFAULTS, planPlacement, type Plan } from '../shard/plan';
import type { WebSocketClass } from '../shard/remoteExecutor';

// Binary files are little-endian; typed arrays use the host's order, which is little-endian on every
// platform the `webgpu` package ships for (x64, arm64).

async function readIds(arg: IdsArg): Promise<number[]> {
  if ('list' in arg) return arg.list;
  let bytes: Buffer;
  try {
    bytes = await readFile(arg.file);
  } catch (e) {
    throw new Error(`cannot read --ids file ${arg.file}: ${(e as Error).message}`);
  }
  if (bytes.length === 0 || bytes.length % 4 !== 0) {
    throw new Error(`${arg.file}: ${bytes.length} bytes is not a non-empty list of int32 ids`);
  }
  // Copied out: a Buffer may sit at an unaligned offset of Node's shared pool.
  return Array.from(new Int32Array(new Uint8Array(bytes).buffer));
}

/** GPU errors need no check here: every readback after one fails with it (src/gpu/gpu.ts). */
/** In Node the store is the model folder itself: streamed experts are read from its files by range. */
const sourceOf = (dir: string) => (dir === 'default' ? memorySource('default', makeDefaultModel()) : nodeSource(dir));

const modelOptions = (args: LoadArgs) => ({ lightningBlock: args.lightningBlock, prefillChunk: args.prefillChunk, expertBudget: args.expertBudget, prefetch: args.prefetch, quantize: args.quantize });

async function load(dir: string, args: LoadArgs): Promise<EngineCore> {
  const core = new EngineCore(nodeGpuDevice, WsWebSocket as unknown as WebSocketClass);
  await core.load(sourceOf(dir), { ...modelOptions(args), devices: args.devices, shards: args.shards, shardTimeoutMs: args.shardTimeoutMs });
  return core;
}

async function shard(cmd: Extract<Command, { kind: 'shard' }>): Promise<void> {
  const ckpt = await openCheckpoint(sourceOf(cmd.model));
  const model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { ...modelOptions(cmd.load), layers: cmd.layers });
  const server = await startShardServer({ model, token: cmd.token, host: cmd.host, port: cmd.port, allowOrigins: cmd.allowOrigins, log: (l) => process.stderr.write(`lightmoe shard: ${l}\n`) });
  print(`lightmoe shard: serving layers ${cmd.layers.from}-${cmd.layers.to - 1} of ${cmd.model} on ${server.url}`);
  await untilInterrupted();
  await server.close();
  model.destroy();
}

/** Runs until SIGINT or SIGTERM. */
function untilInterrupted(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

async function serve(cmd: Extract<Command, { kind: 'serve' }>): Promise<void> {
  const a = cmd.load;
  const engine = await createEngine({ model: sourceOf(cmd.model), ...modelOptions(a), devices: a.devices, shards: a.shards, shardTimeoutMs: a.shardTimeoutMs });
  const server = await startOpenAIServer({ engine, host: cmd.host, port: cmd.port, apiKey: cmd.apiKey, allowOrigins: cmd.allowOrigins, log: (l) => process.stderr.write(`lightmoe serve: ${l}\n`) });
  print(`lightmoe serve: ${engine.info.id} on ${server.url}/v1${cmd.apiKey ? ' (API key required)' : ''}`);
  await untilInterrupted();
  await server.close();
  await engine.unload();
}

const GB = (b: number) => `${(b / 1e9).toFixed(b < 10e9 ? 2 : 1)} GB`;

function planTable(p: Plan): string {
  const rows = p.placements.map((x) => [
    x.executor.name,
    x.layers ? `${x.layers.from}-${x.layers.to - 1}` : '-',
    GB(x.weights),
    GB(x.state),
    `${GB(x.weights + x.state)} of ${GB(x.executor.bytes)}${x.weights + x.state > x.executor.bytes ? ' (over)' : ''}`,
    `${(x.executor.bandwidth / 1e9).toFixed(0)} GB/s`,
    (x.seconds * 1000).toFixed(2),
  ]);
  const head = ['executor', 'layers', 'weights', 'state', 'memory', 'read rate', 'ms/token'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(width[i])).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

async function plan(cmd: Extract<Command, { kind: 'plan' }>): Promise<void> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(cmd.config, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read --config ${cmd.config}: ${(e as Error).message}`);
  }
  const config = parseConfig(json, cmd.config);
  const count = { device: 0, remote: 0 };
  const executors = cmd.executors.map((e) => ({
    name: `${e.kind} ${count[e.kind]++}`,
    kind: e.kind,
    bytes: e.bytes,
    bandwidth: e.bandwidth ?? (e.kind === 'device' ? DEFAULTS.deviceBandwidth : DEFAULTS.remoteBandwidth),
  }));
  const opts = { quantize: cmd.quantize, stored: cmd.dtype, context: cmd.context, kv: cmd.kv };
  const p = planPlacement(config, executors, opts);
  if (cmd.json) return print(JSON.stringify({ ...p, assumptions: { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } }, null, 2));
  print(planTable(p));
  print('');
  print(`weights ${GB(p.totalWeights)} (${cmd.quantize ?? cmd.dtype ?? 'bf16'}), context ${cmd.context ?? DEFAULTS.context} tokens, KV ${cmd.kv ?? 'f16'}; ` + (p.fits ? 'fits.' : `does not fit: ${GB(p.shortfall)} short.`));
  print(`predicted decode${p.fits ? '' : ' (were the memory there)'}: ${p.tokensPerSecond.toFixed(2)} tokens/s for one sequence (hops ${(p.hopSeconds * 1000).toFixed(2)} ms/token)`);
  print(
    `assumed: a token reads its layers' attention, router, norms, top-${config.expertsPerToken} experts and shared expert once, at each executor's read rate ` +
      `(default ${DEFAULTS.deviceBandwidth / 1e9} GB/s a device, ${DEFAULTS.remoteBandwidth / 1e9} GB/s a remote; give SIZE@BW to state one); ` +
      `the coordinator relays the hidden state: to each remote and back ${DEFAULTS.linkLatency * 1000} ms + 2 hidden rows at ${DEFAULTS.linkBandwidth / 1e9} GB/s, into each further local device ${DEFAULTS.localHop * 1000} ms.`,
  );
}

async function logits(cmd: Extract<Command, { kind: 'logits' }>): Promise<void> {
  const ids = await readIds(cmd.ids);
  const core = await load(cmd.model, cmd.load);
  try {
    const out = await core.logits(ids);
    await writeFile(cmd.out, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  } finally {
    await core.unload();
  }
}

async function generate(cmd: Extract<Command, { kind: 'generate' }>): Promise<void> {
  // Ids are read before the model loads, so a bad --ids file fails fast.
  const given = 'ids' in cmd.input ? await readIds(cmd.input.ids) : null;
  const core = await load(cmd.model, cmd.load);
  try {
    const info = core.info!;
    if (!given && !info.hasTokenizer) throw new Error(`${cmd.model} has no tokenizer.json: give token ids with --ids instead of --prompt`);
    const prompt = given ?? core.encode((cmd.input as { prompt: string }).prompt);
    // Someone watching a terminal sees the text as it comes (SwiftShader is slow); pipes get it whole.
    const live = !cmd.json && info.hasTokenizer && process.stdout.isTTY;
    const r = await core.generate(1, { prompt, maxTokens: cmd.maxTokens, sampling: cmd.sampling, stop: cmd.stop, thinkingBudget: cmd.thinkingBudget, ignoreEos: cmd.ignoreEos, parseToolCalls: false }, live ? (c) => process.stdout.write(c.text) : undefined);
    // The printed text is decode(ids), as transformers and expected.json define it (a SentencePiece
    // decoder drops the leading space); the live stream above continues the prompt instead.
    // A stop string ends the text before it, as in the stream.
    const text = () => cmd.stop.reduce((t, stop) => (t.includes(stop) ? t.slice(0, t.indexOf(stop)) : t), core.decode(r.ids));
    if (cmd.json) print(JSON.stringify(info.hasTokenizer ? { ids: r.ids, text: text(), timings: r.timings } : { ids: r.ids, timings: r.timings }));
    else if (live) print('');
    else print(info.hasTokenizer ? text() : r.ids.join(','));
  } finally {
    await core.unload();
  }
}

async function quantize(cmd: Extract<Command, { kind: 'quantize' }>): Promise<void> {
  if (path.resolve(cmd.out) === path.resolve(cmd.model)) throw new Error(`--out ${cmd.out} is the model folder itself`);
  const existing = await readdir(cmd.out).catch(() => null);
  if (existing?.length) throw new Error(`--out ${cmd.out} exists and is not empty: give a new folder`);
  const source = nodeSource(cmd.model);
  const ckpt = await openCheckpoint(source);
  const configJson = (await readJson(source, 'config.json')) as Record<string, unknown>;
  await mkdir(cmd.out, { recursive: true });
  const handles = new Map<string, Promise<FileHandle>>();
  let done = false;
  try {
    const r = await quantizeCheckpoint(ckpt, configJson, cmd.to, {
      async write(file, offset, bytes) {
        let h = handles.get(file);
        if (!h) handles.set(file, (h = open(path.join(cmd.out, file), 'w')));
        await (await h).write(bytes, 0, bytes.length, offset);
      },
    });
    await writeFile(path.join(cmd.out, 'config.json'), JSON.stringify(r.config, null, 2) + '\n');
    // The tokenizer, generation config and anything else of the folder go along unchanged.
    for (const e of await readdir(cmd.model, { withFileTypes: true })) {
      if (e.isFile() && !e.name.endsWith('.safetensors') && e.name !== INDEX_FILE && e.name !== 'config.json') await copyFile(path.join(cmd.model, e.name), path.join(cmd.out, e.name));
    }
    print(`${cmd.out}: ${r.quantized} matrices quantized to ${cmd.to}, ${(r.bytesIn / 1e6).toFixed(1)} MB of tensors → ${(r.bytesOut / 1e6).toFixed(1)} MB (${r.files.join(', ')})`);
    done = true;
  } finally {
    for (const h of handles.values()) await (await h).close();
    // A failed run leaves no half-written folder behind (it was new or empty).
    if (!done) await rm(cmd.out, { recursive: true, force: true });
  }
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

function describe(e: unknown): string {
  if (process.env.LIGHTMOE_DEBUG === '1') return inspect(e);
  return e instanceof Error ? e.message : String(e);
}

/** Runs one command; returns the exit code. Errors are reported on stderr, never thrown. */
export async function run(argv: readonly string[]): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseCommand(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`lightmoe: ${e.message} (see lightmoe --help)\n`);
    return 2;
  }
  try {
    if (cmd.kind === 'help') print(USAGE);
    else if (cmd.kind === 'logits') await logits(cmd);
    else if (cmd.kind === 'quantize') await quantize(cmd);
    else if (cmd.kind === 'shard') await shard(cmd);
    else if (cmd.kind === 'serve') await serve(cmd);
    else if (cmd.kind === 'plan') await plan(cmd);
    else await generate(cmd);
    return 0;
  } catch (e) {
    // Messages name what failed (file, option, token id); a NoAdapterError's says how to get an adapter.
    process.stderr.write(`lightmoe: ${describe(e)}\n`);
    return 1;
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  process.exitCode = await run(argv);
}
