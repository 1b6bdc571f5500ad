/** The `lightmoe` command: prefill logits and greedy generation from a model folder, on Dawn's WebGPU. */
import { readFile, writeFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { Model, type ModelOptions } from '../engine/model';
import type { ModelSource } from '../model/source';
import { StreamingDetokenizer } from '../text/detokenizer';
import { loadTokenizer } from '../text/tokenizer';
import { parseCommand, UsageError, USAGE, type Command, type IdsArg, type LoadArgs } from './args';
import { generateGreedy, readEosIds } from './generate';
import { nodeGpuDevice, watchGpuErrors } from './gpu';
import { nodeSource } from './source';

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

interface Loaded {
  model: Model;
  /** Throws the first GPU error so far. */
  checkGpu(): void;
}

async function loadModel(source: ModelSource, load: LoadArgs): Promise<Loaded> {
  const device = await nodeGpuDevice();
  const errors = watchGpuErrors(device);
  const opts: ModelOptions = { lightningBlock: load.lightningBlock, prefillChunk: load.prefillChunk };
  try {
    return { model: await Model.load(source, device, opts), checkGpu: errors.check };
  } catch (e) {
    device.destroy();
    throw e;
  }
}

async function logits(cmd: Extract<Command, { kind: 'logits' }>): Promise<void> {
  const ids = await readIds(cmd.ids);
  const { model, checkGpu } = await loadModel(nodeSource(cmd.model), cmd.load);
  try {
    const out = await model.forward(ids, 'all');
    checkGpu();
    await writeFile(cmd.out, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  } finally {
    destroy(model);
  }
}

async function generate(cmd: Extract<Command, { kind: 'generate' }>): Promise<void> {
  const source = nodeSource(cmd.model);
  const tokenizer = await loadTokenizer(source);
  let prompt: number[];
  if ('prompt' in cmd.input) {
    if (!tokenizer) throw new Error(`${cmd.model} has no tokenizer.json: give token ids with --ids instead of --prompt`);
    prompt = tokenizer.encode(cmd.input.prompt);
  } else {
    prompt = await readIds(cmd.input.ids);
  }
  const stopIds = cmd.ignoreEos ? [] : await readEosIds(source);

  const { model, checkGpu } = await loadModel(source, cmd.load);
  try {
    // Someone watching a terminal sees the text as it comes (SwiftShader is slow); pipes get it whole.
    const stream = !cmd.json && tokenizer && process.stdout.isTTY ? new StreamingDetokenizer(tokenizer) : null;
    const onToken = stream ? (id: number) => process.stdout.write(stream.push(id)) : undefined;
    const ids = await generateGreedy(model, prompt, { maxTokens: cmd.maxTokens, stopIds, onToken });
    checkGpu();
    if (cmd.json) {
      print(JSON.stringify(tokenizer ? { ids, text: tokenizer.decode(ids) } : { ids }));
    } else if (stream) {
      print(stream.flush());
    } else {
      print(tokenizer ? tokenizer.decode(ids) : ids.join(','));
    }
  } finally {
    destroy(model);
  }
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

function destroy(model: Model): void {
  const device = model.gpu.device;
  model.destroy();
  device.destroy();
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
