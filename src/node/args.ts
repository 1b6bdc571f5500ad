/** Command-line parsing for `lightmoe`: argv in, a checked command out; UsageError for anything wrong. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export const USAGE = `Usage:
  lightmoe logits   --model DIR --ids IDS --out FILE.bin [load options]
  lightmoe generate --model DIR (--prompt TEXT | --ids IDS) [--max-tokens N] [--temperature 0]
                    [--ignore-eos] [--json] [load options]
  lightmoe --help

Commands:
  logits     Prefill IDS and write the next-token logits of every position to FILE.bin:
             float32 little-endian, shape [number of ids, vocab].
  generate   Greedy continuation of the prompt (token ids after --prompt are encoded with the
             folder's tokenizer.json). Prints the text, or the ids when the folder has no tokenizer;
             --json prints {"ids": [...], "text": "..."} (text only with a tokenizer).
             Stops after an eos_token_id of generation_config.json unless --ignore-eos;
             the stop token is included. Default --max-tokens 64. Only --temperature 0 (greedy).

IDS: a comma-separated list (1,2,3) or a FILE.bin of int32 little-endian ids.
DIR: a folder with config.json and model.safetensors (or an index and shards).

Load options:
  --lightning-block N   lightning attention block size of the prefill kernel (default 64)
  --prefill-chunk N     most tokens run through the layers at once (default 256)

Exit codes: 0 ok, 1 runtime error (model, GPU, files), 2 usage error.
Environment: LIGHTMOE_DEBUG=1 prints stack traces; VK_ICD_FILENAMES picks the Vulkan driver.`;

export interface LoadArgs {
  lightningBlock?: number;
  prefillChunk?: number;
}

/** Token ids given inline, or the path of an int32 file read later. */
export type IdsArg = { list: number[] } | { file: string };

export type Command =
  | { kind: 'help' }
  | { kind: 'logits'; model: string; ids: IdsArg; out: string; load: LoadArgs }
  | {
      kind: 'generate';
      model: string;
      input: { prompt: string } | { ids: IdsArg };
      maxTokens: number;
      json: boolean;
      ignoreEos: boolean;
      load: LoadArgs;
    };

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  model: { type: 'string' },
  'lightning-block': { type: 'string' },
  'prefill-chunk': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const OPTIONS: Record<'logits' | 'generate', Options> = {
  logits: { ...COMMON, ids: { type: 'string' }, out: { type: 'string' } },
  generate: {
    ...COMMON,
    prompt: { type: 'string' },
    ids: { type: 'string' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    json: { type: 'boolean' },
    'ignore-eos': { type: 'boolean' },
  },
};

export function parseCommand(argv: readonly string[]): Command {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError('no command given');
  if (name === '--help' || name === '-h' || name === 'help') return { kind: 'help' };
  if (name !== 'logits' && name !== 'generate') throw new UsageError(`unknown command '${name}'`);

  let values: Record<string, string | boolean | undefined>;
  try {
    // No option is `multiple`, so no value is an array.
    values = parseArgs({ args: [...rest], options: OPTIONS[name], strict: true, allowPositionals: false }).values as typeof values;
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
  const model = required('model');
  const load: LoadArgs = {
    lightningBlock: optionalInt(str('lightning-block'), 'lightning-block', 1),
    prefillChunk: optionalInt(str('prefill-chunk'), 'prefill-chunk', 1),
  };

  if (name === 'logits') return { kind: 'logits', model, ids: parseIds(required('ids')), out: required('out'), load };

  const prompt = str('prompt');
  const ids = str('ids');
  if ((prompt === undefined) === (ids === undefined)) throw new UsageError('generate needs exactly one of --prompt and --ids');
  const temperature = str('temperature');
  if (temperature !== undefined) {
    const t = Number(temperature);
    if (temperature.trim() === '' || !Number.isFinite(t) || t < 0) {
      throw new UsageError(`--temperature must be a number >= 0, got '${temperature}'`);
    }
    if (t > 0) throw new UsageError('sampling with temperature > 0 is not implemented yet (use --temperature 0 for greedy decoding)');
  }
  return {
    kind: 'generate',
    model,
    input: prompt !== undefined ? { prompt } : { ids: parseIds(ids!) },
    maxTokens: optionalInt(str('max-tokens'), 'max-tokens', 0) ?? 64,
    json: values.json === true,
    ignoreEos: values['ignore-eos'] === true,
    load,
  };
}

function optionalInt(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${flag} must be an integer >= ${min}, got '${value}'`);
  }
  return n;
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
