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
async function load(dir: string, args: LoadArgs): Promise<EngineCore> {
  const core = new EngineCore(nodeGpuDevice);
  // In Node the store is the model folder itself: streamed experts are read from its files by range.
  const source = dir === 'default' ? memorySource('default', makeDefaultModel()) : nodeSource(dir);
  await core.load(source, { lightningBlock: args.lightningBlock, prefillChunk: args.prefillChunk, expertBudget: args.expertBudget, prefetch: args.prefetch, quantize: args.quantize });
  return core;
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
    if (cmd.json) print(JSON.stringify(info.hasTokenizer ? { ids: r.ids, text: text() } : { ids: r.ids }));
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
