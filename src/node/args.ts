/** Command-line parsing for `lightmoe`: argv in, a checked command out; UsageError for anything wrong. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export const USAGE = `Usage:
  lightmoe logits   --model DIR --ids IDS --out FILE.bin [load options]
  lightmoe generate --model DIR (--prompt TEXT | --ids IDS) [--max-tokens N] [sampling options]
                    [--stop TEXT]... [--thinking-budget N] [--ignore-eos] [--json] [load options]
  lightmoe quantize --model DIR --to int8|int4 --out DIR2
  lightmoe shard    --model DIR --layers A-B --token T [--port P] [--host H] [--allow-origin URL]...
                    [load options]
  lightmoe serve    --model DIR [--port P] [--host H] [--api-key K] [--allow-origin URL]... [load options]
  lightmoe plan     --config config.json (--device SIZE | --remote SIZE)... [--quantize int8|int4]
                    [--dtype bf16|f16|f32] [--context N] [--kv f16|f32] [--json]
  lightmoe --help

Commands:
  logits     Prefill IDS and write the next-token logits of every position to FILE.bin:
             float32 little-endian, shape [number of ids, vocab].
  generate   Continue the prompt (--prompt is encoded with the folder's tokenizer.json, BOS added).
             Prints the text, or the ids when the folder has no tokenizer; --json prints
             {"ids": [...], "text": "..."} (text only with a tokenizer). Stops at an eos_token_id of
             generation_config.json (not included) unless --ignore-eos, or at a --stop string.
             Default --max-tokens 64.
  quantize   Write DIR2: DIR with its large matrices quantized (attention, experts, shared expert;
             blocks of 32 for int8, 16 for int4), every other tensor as stored, the other files of
             DIR copied, and quantization_config in config.json. Every command, createEngine and
             the browser load DIR2 as it is. DIR2 must not exist or be empty.
  shard      Serve layers A to B (inclusive, from 0) of DIR over a WebSocket to a coordinator
             (logits/generate --shard, or createEngine's shards). Listens on 127.0.0.1 unless --host
             says otherwise (default port 9100); every client must present the token (--token, or
             the LIGHTMOE_SHARD_TOKEN environment variable, which keeps it out of process lists).
             Browser pages may connect only from an --allow-origin origin. Runs until interrupted.
  serve      Serve DIR over an OpenAI-compatible HTTP API (default 127.0.0.1:8000): POST
             /v1/chat/completions and /v1/completions (stream or not), GET /v1/models. With --api-key
             (or LIGHTMOE_API_KEY) every request needs "Authorization: Bearer K". --allow-origin lets
             web pages of that origin call it ('*': any). Requests queue; runs until interrupted.
  plan       Place the layers of config.json on executors by their memory (SIZE: 24GiB, 512MB, …;
             append @BW to state a read bandwidth, e.g. 24GiB@900GB/s), local devices first, then
             remotes, in the order given. Prints per executor its layers, weight and state bytes
             (KV caches at --context tokens, default 4096, in --kv format: f16 as on GPUs with
             shader-f16, the default, or f32 as on software adapters) and a predicted decode rate;
             the assumed bandwidths and link are printed with it.

Sampling options (defaults from generation_config.json, else MiniMax-M1's temperature 1.0, top-p 0.95):
  --temperature T  0 = greedy     --top-p P    --top-k K    --min-p P    --seed N
  --repetition-penalty R          --presence-penalty P      --frequency-penalty F

IDS: a comma-separated list (1,2,3) or a FILE.bin of int32 little-endian ids.
DIR: a folder with config.json and model.safetensors (or an index and shards), or \`default\`: the
     embedded default model (random weights, made in memory; write ./default to mean a folder).
TEXT: \\n, \\t and \\\\ in --stop and --prompt stand for a newline, a tab and a backslash.

Load options:
  --lightning-block N   lightning attention block size of the prefill kernel (default 64)
  --prefill-chunk N     most tokens run through the layers at once (default 256)
  --expert-budget F     stream experts from DIR through a GPU cache holding this fraction of each
                        layer's experts (0 < F <= 1, at least top-k); default: all resident
  --prefetch            with --expert-budget: predict each layer's experts and load them early
  --quantize int8|int4  quantize the large matrices on load (as the quantize command does; see the README)
  --devices N           (logits, generate) split the layers no shard serves over N GPU devices
  --shard URL --token T (logits, generate; repeatable) the layers the shard server at URL serves run
                        there; one --token serves every --shard, or give one per --shard in order
  --shard-timeout S     a shard that does not answer in S seconds fails the run, naming it (default 30)

Exit codes: 0 ok, 1 runtime error (model, GPU, files), 2 usage error.
Environment: LIGHTMOE_DEBUG=1 prints stack traces; VK_ICD_FILENAMES picks the Vulkan driver.`;

export interface LoadArgs {
  devices?: number;
  shards?: { url: string; token: string }[];
  shardTimeoutMs?: number;
  lightningBlock?: number;
  prefillChunk?: number;
  expertBudget?: number;
  prefetch?: boolean;
  quantize?: 'int8' | 'int4';
}

export interface SamplingArgs {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  seed?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
}

/** Token ids given inline, or the path of an int32 file read later. */
export type IdsArg = { list: number[] } | { file: string };

export type Command =
  | { kind: 'help' }
  | { kind: 'quantize'; model: string; to: 'int8' | 'int4'; out: string }
  | { kind: 'serve'; model: string; port: number; host: string; apiKey?: string; allowOrigins: string[]; load: LoadArgs }
  | { kind: 'shard'; model: string; layers: { from: number; to: number }; token: string; port: number; host: string; allowOrigins: string[]; load: LoadArgs }
  | {
      kind: 'plan';
      config: string;
      executors: { kind: 'device' | 'remote'; bytes: number; bandwidth?: number }[];
      quantize?: 'int8' | 'int4';
      dtype?: 'bf16' | 'f16' | 'f32';
      context?: number;
      kv?: 'f16' | 'f32';
      json: boolean;
    }
  | { kind: 'logits'; model: string; ids: IdsArg; out: string; load: LoadArgs }
  | {
      kind: 'generate';
      model: string;
      input: { prompt: string } | { ids: IdsArg };
      maxTokens: number;
      sampling: SamplingArgs;
      stop: string[];
      thinkingBudget?: number;
      json: boolean;
      ignoreEos: boolean;
      load: LoadArgs;
    };

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  model: { type: 'string' },
  'lightning-block': { type: 'string' },
  'prefill-chunk': { type: 'string' },
  'expert-budget': { type: 'string' },
  prefetch: { type: 'boolean' },
  quantize: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const SHARDING: Options = {
  devices: { type: 'string' },
  shard: { type: 'string', multiple: true },
  token: { type: 'string', multiple: true },
  'shard-timeout': { type: 'string' },
};

const COMMANDS = ['logits', 'generate', 'quantize', 'shard', 'serve', 'plan'] as const;
type CommandName = (typeof COMMANDS)[number];

const OPTIONS: Record<CommandName, Options> = {
  quantize: { model: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  shard: { ...COMMON, layers: { type: 'string' }, token: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'allow-origin': { type: 'string', multiple: true } },
  serve: { ...COMMON, ...SHARDING, port: { type: 'string' }, host: { type: 'string' }, 'api-key': { type: 'string' }, 'allow-origin': { type: 'string', multiple: true } },
  plan: {
    config: { type: 'string' },
    device: { type: 'string', multiple: true },
    remote: { type: 'string', multiple: true },
    quantize: { type: 'string' },
    dtype: { type: 'string' },
    context: { type: 'string' },
    kv: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  logits: { ...COMMON, ...SHARDING, ids: { type: 'string' }, out: { type: 'string' } },
  generate: {
    ...COMMON,
    ...SHARDING,
    prompt: { type: 'string' },
    ids: { type: 'string' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'top-k': { type: 'string' },
    'min-p': { type: 'string' },
    seed: { type: 'string' },
    'repetition-penalty': { type: 'string' },
    'presence-penalty': { type: 'string' },
    'frequency-penalty': { type: 'string' },
    stop: { type: 'string', multiple: true },
    'thinking-budget': { type: 'string' },
    json: { type: 'boolean' },
    'ignore-eos': { type: 'boolean' },
  },
};

export function parseCommand(argv: readonly string[]): Command {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError('no command given');
  if (name === '--help' || name === '-h' || name === 'help') return { kind: 'help' };
  if (!(COMMANDS as readonly string[]).includes(name)) throw new UsageError(`unknown command '${name}'`);
  const command = name as CommandName;

  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({ args: [...rest], options: OPTIONS[command], strict: true, allowPositionals: false }).values as typeof values;
  } catch (e) {
    // parseArgs' own messages name the option; its TypeErrors are all about the arguments.
    throw new UsageError((e as Error).message);
  }
  if (values.help) return { kind: 'help' };

  const str = (key: string): string | undefined => values[key] as string | undefined;
  const required = (key: string): string => {
    const v = str(key);
    if (v === undefined) throw new UsageError(`${name} needs --${key}`);
    return v;
  };
  if (command === 'plan') {
    const executors = [
      ...((values.device as string[] | undefined) ?? []).map((v) => ({ kind: 'device' as const, ...parseSize(v, 'device') })),
      ...((values.remote as string[] | undefined) ?? []).map((v) => ({ kind: 'remote' as const, ...parseSize(v, 'remote') })),
    ];
    if (!executors.length) throw new UsageError('plan needs at least one --device or --remote');
    return {
      kind: 'plan',
      config: required('config'),
      executors,
      quantize: optionalChoice(str('quantize'), 'quantize', ['int8', 'int4'] as const),
      dtype: optionalChoice(str('dtype'), 'dtype', ['bf16', 'f16', 'f32'] as const),
      context: optionalInt(str('context'), 'context', 1),
      kv: optionalChoice(str('kv'), 'kv', ['f16', 'f32'] as const),
      json: values.json === true,
    };
  }
  const model = required('model');
  if (command === 'quantize') {
    if (model === 'default') throw new UsageError('quantize needs a model folder (the embedded default model is made in memory)');
    return { kind: 'quantize', model, to: optionalChoice(required('to'), 'to', ['int8', 'int4'] as const)!, out: required('out') };
  }
  const load: LoadArgs = {
    lightningBlock: optionalInt(str('lightning-block'), 'lightning-block', 1),
    prefillChunk: optionalInt(str('prefill-chunk'), 'prefill-chunk', 1),
    expertBudget: optionalNumber(str('expert-budget'), 'expert-budget', (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
    prefetch: values.prefetch === true || undefined,
    quantize: optionalChoice(str('quantize'), 'quantize', ['int8', 'int4'] as const),
  };
  if (load.prefetch && load.expertBudget === undefined) throw new UsageError('--prefetch needs --expert-budget');

  const port = (fallback: number) => {
    const p = optionalInt(str('port'), 'port', 0) ?? fallback;
    if (p > 65535) throw new UsageError(`--port must be at most 65535, got ${p}`);
    return p;
  };
  if (command === 'shard') {
    const token = str('token') ?? process.env.LIGHTMOE_SHARD_TOKEN;
    if (!token) throw new UsageError('shard needs --token (or LIGHTMOE_SHARD_TOKEN)');
    return { kind: 'shard', model, layers: parseLayers(required('layers')), token, port: port(9100), host: str('host') ?? '127.0.0.1', allowOrigins: (values['allow-origin'] as string[] | undefined) ?? [], load };
  }
  const shardUrls = (values.shard as string[] | undefined) ?? [];
  const tokens = (values.token as string[] | undefined) ?? [];
  if (shardUrls.length && tokens.length !== 1 && tokens.length !== shardUrls.length) throw new UsageError(`${shardUrls.length} --shard need one --token, or one each; got ${tokens.length}`);
  if (!shardUrls.length && tokens.length) throw new UsageError('--token goes with --shard');
  for (const u of shardUrls) if (!/^wss?:\/\/[^/]+/.test(u)) throw new UsageError(`--shard must be a ws:// or wss:// URL, got '${u}'`);
  load.shards = shardUrls.length ? shardUrls.map((url, i) => ({ url, token: tokens[tokens.length === 1 ? 0 : i] })) : undefined;
  load.devices = optionalInt(str('devices'), 'devices', 1);
  const timeout = optionalNumber(str('shard-timeout'), 'shard-timeout', (v) => v > 0, 'a number of seconds > 0');
  load.shardTimeoutMs = timeout === undefined ? undefined : timeout * 1000;
  if (command === 'serve') {
    return { kind: 'serve', model, port: port(8000), host: str('host') ?? '127.0.0.1', apiKey: str('api-key') ?? process.env.LIGHTMOE_API_KEY, allowOrigins: (values['allow-origin'] as string[] | undefined) ?? [], load };
  }

  if (name === 'logits') return { kind: 'logits', model, ids: parseIds(required('ids')), out: required('out'), load };

  const prompt = str('prompt');
  const ids = str('ids');
  if ((prompt === undefined) === (ids === undefined)) throw new UsageError('generate needs exactly one of --prompt and --ids');
  const atLeast = (min: number) => (v: number) => v >= min;
  const sampling: SamplingArgs = {
    temperature: optionalNumber(str('temperature'), 'temperature', atLeast(0), 'a number >= 0'),
    topP: optionalNumber(str('top-p'), 'top-p', (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
    topK: optionalInt(str('top-k'), 'top-k', 0),
    minP: optionalNumber(str('min-p'), 'min-p', (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
    seed: optionalInt(str('seed'), 'seed', 0),
    repetitionPenalty: optionalNumber(str('repetition-penalty'), 'repetition-penalty', (v) => v > 0, 'a number > 0'),
    presencePenalty: optionalNumber(str('presence-penalty'), 'presence-penalty', Number.isFinite, 'a number'),
    frequencyPenalty: optionalNumber(str('frequency-penalty'), 'frequency-penalty', Number.isFinite, 'a number'),
  };
  return {
    kind: 'generate',
    model,
    input: prompt !== undefined ? { prompt: unescape(prompt) } : { ids: parseIds(ids!) },
    maxTokens: optionalInt(str('max-tokens'), 'max-tokens', 0) ?? 64,
    sampling,
    stop: ((values.stop as string[] | undefined) ?? []).map(unescape),
    thinkingBudget: optionalInt(str('thinking-budget'), 'thinking-budget', 0),
    json: values.json === true,
    ignoreEos: values['ignore-eos'] === true,
    load,
  };
}

/** A shell passes `"\\n\\n"` as backslash-n twice; users mean two newlines. */
export function unescape(text: string): string {
  return text.replace(/\\([nt\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

function optionalChoice<T extends string>(value: string | undefined, flag: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!choices.includes(value as T)) throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got '${value}'`);
  return value as T;
}

function optionalInt(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${flag} must be an integer >= ${min}, got '${value}'`);
  }
  return n;
}

function optionalNumber(value: string | undefined, flag: string, ok: (v: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new UsageError(`--${flag} must be ${what}, got '${value}'`);
  return n;
}

/** `A-B` (inclusive) as the range A..B+1; `A` alone is one layer. */
export function parseLayers(value: string): { from: number; to: number } {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(value);
  if (!m) throw new UsageError(`--layers must be A-B (first and last layer, from 0), got '${value}'`);
  const from = Number(m[1]);
  const last = m[2] === undefined ? from : Number(m[2]);
  if (last < from) throw new UsageError(`--layers ${value}: the last layer comes before the first`);
  return { from, to: last + 1 };
}

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** `24GiB` or `24GiB@900GB/s`: bytes, and a bandwidth in bytes/s when one is stated. */
export function parseSize(value: string, flag: string): { bytes: number; bandwidth?: number } {
  const bad = () => new UsageError(`--${flag} must be a size such as 24GiB or 24GiB@900GB/s, got '${value}'`);
  const toBytes = (text: string) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)\s*$/i.exec(text);
    const v = m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : 0;
    if (!(v > 0)) throw bad();
    return v;
  };
  const [size, bw, ...more] = value.split('@');
  if (more.length || (bw !== undefined && !bw.trim().endsWith('/s'))) throw bad();
  const bytes = toBytes(size);
  return bw === undefined ? { bytes } : { bytes, bandwidth: toBytes(bw.trim().slice(0, -2)) };
}

/** A value ending in .bin names an int32 file; anything else is a comma-separated list. */
export function parseIds(value: string): IdsArg {
  if (/\.bin$/i.test(value)) return { file: value };
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 1 && parts[0] === '') throw new UsageError('--ids is empty');
  // Range checks need the vocabulary: the model does them. Here only the syntax.
  const list = parts.map((p) => {
    if (!/^-?\d+$/.test(p) || !Number.isSafeInteger(Number(p))) throw new UsageError(`--ids: '${p}' is not an integer token id`);
    return Number(p);
  });
  return { list };
}
