import { describe, expect, test } from 'vitest';
import { parseCommand, parseIds, parseLayers, parseSize, UsageError } from './args';

const usage = (argv: string[]) => {
  try {
    parseCommand(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('parseCommand', () => {
  test('\\n, \\t and \\\\ in --stop and --prompt are a newline, a tab and a backslash', () => {
    expect(parseCommand(['generate', '--model', 'm', '--prompt', 'a\\tb\\\\n', '--stop', '\\n\\n', '--stop', 'x'])).toMatchObject({
      input: { prompt: 'a\tb\\n' },
      stop: ['\n\n', 'x'],
    });
  });

  test('logits', () => {
    expect(parseCommand(['logits', '--model', 'm', '--ids', '1, 2,3', '--out', 'o.bin', '--prefill-chunk', '16'])).toEqual({
      kind: 'logits',
      model: 'm',
      ids: { list: [1, 2, 3] },
      out: 'o.bin',
      load: { lightningBlock: undefined, prefillChunk: 16 },
    });
  });

  test('generate defaults', () => {
    expect(parseCommand(['generate', '--model', 'm', '--prompt', 'Hi'])).toMatchObject({
      kind: 'generate',
      input: { prompt: 'Hi' },
      maxTokens: 64,
      json: false,
      ignoreEos: false,
    });
    expect(parseCommand(['generate', '--model', 'm', '--ids', 'x.bin', '--temperature', '0', '--max-tokens', '0', '--json'])).toMatchObject({
      input: { ids: { file: 'x.bin' } },
      maxTokens: 0,
      json: true,
    });
  });

  test('sampling, stops and expert options', () => {
    const argv = ['generate', '--model', 'm', '--ids', '1', '--temperature', '0.7', '--top-p', '0.9', '--top-k', '40', '--min-p', '0.05', '--seed', '3',
      '--repetition-penalty', '1.1', '--presence-penalty', '0.5', '--frequency-penalty=-0.25', '--stop', 'END', '--stop', '\n\n', '--thinking-budget', '100',
      '--expert-budget', '0.25', '--prefetch'];
    expect(parseCommand(argv)).toMatchObject({
      sampling: { temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, seed: 3, repetitionPenalty: 1.1, presencePenalty: 0.5, frequencyPenalty: -0.25 },
      stop: ['END', '\n\n'],
      thinkingBudget: 100,
      load: { expertBudget: 0.25, prefetch: true },
    });
  });

  test('help', () => {
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommand(['generate', '--help'])).toEqual({ kind: 'help' });
  });

  test('usage errors', () => {
    expect(usage([])).toMatch(/no command/);
    expect(usage(['run'])).toMatch(/unknown command 'run'/);
    expect(usage(['generate', '--ids', '1'])).toBe('generate needs --model');
    expect(usage(['logits', '--model', 'm', '--ids', '1'])).toBe('logits needs --out');
    expect(usage(['logits', '--model', 'm', '--ids', '1', '--out', 'o', '--json'])).toMatch(/Unknown option '--json'/);
    expect(usage(['generate', '--model'])).toMatch(/--model <value>' argument missing/);
    expect(usage(['generate', '--model', 'm'])).toMatch(/exactly one of --prompt and --ids/);
    expect(usage(['generate', '--model', 'm', '--prompt', 'a', '--ids', '1'])).toMatch(/exactly one of/);
    expect(usage(['generate', '--model', 'm', '--ids', '1', '--temperature=-1'])).toMatch(/--temperature must be a number >= 0/);
    expect(usage(['generate', '--model', 'm', '--ids', '1', '--min-p', '2'])).toMatch(/--min-p must be a number in \[0, 1\]/);
    expect(usage(['generate', '--model', 'm', '--ids', '1', '--seed=-3'])).toMatch(/--seed must be an integer >= 0/);
    expect(usage(['generate', '--model', 'm', '--ids', '1', '--prefetch'])).toMatch(/--prefetch needs --expert-budget/);
    expect(usage(['generate', '--model', 'm', '--ids', '1', '--temperature', 'hot'])).toMatch(/--temperature must be a number/);
    expect(usage(['generate', '--model', 'm', '--ids', '1', '--max-tokens', '2.5'])).toMatch(/--max-tokens must be an integer >= 0/);
    expect(usage(['logits', '--model', 'm', '--ids', '1', '--out', 'o', '--lightning-block', '0'])).toMatch(/--lightning-block/);
  });

  test('ids', () => {
    expect(parseIds('7')).toEqual({ list: [7] });
    expect(parseIds('-1,2')).toEqual({ list: [-1, 2] }); // out of range: the model says so
    expect(parseIds('dir/ids.BIN')).toEqual({ file: 'dir/ids.BIN' });
    expect(() => parseIds('1,x,3')).toThrow("--ids: 'x' is not an integer token id");
    expect(() => parseIds('1,,3')).toThrow("--ids: '' is not an integer token id");
    expect(() => parseIds('1.5')).toThrow(UsageError);
    expect(() => parseIds('')).toThrow('--ids is empty');
  });
});

describe('shard, plan and sharding options', () => {
  test('layers, sizes and bandwidths', () => {
    expect(parseLayers('3-5')).toEqual({ from: 3, to: 6 });
    expect(parseLayers('7')).toEqual({ from: 7, to: 8 });
    expect(parseSize('24GiB', 'device')).toEqual({ bytes: 24 * 2 ** 30 });
    expect(parseSize('1.5TB@900GB/s', 'remote')).toEqual({ bytes: 1.5e12, bandwidth: 900e9 });
    for (const bad of ['24', 'GiB', '24GiB@900GB', '24GiB@@1GB/s', '-1GB', '0GB']) expect(() => parseSize(bad, 'device')).toThrow(/--device must be a size/);
  });

  test('generate --devices --shard --token', () => {
    const c = parseCommand(['generate', '--model', 'm', '--ids', '1', '--devices', '2', '--shard', 'ws://a:1', '--shard', 'wss://b:2', '--token', 't', '--shard-timeout', '2.5']);
    expect(c).toMatchObject({ load: { devices: 2, shards: [{ url: 'ws://a:1', token: 't' }, { url: 'wss://b:2', token: 't' }], shardTimeoutMs: 2500 } });
    const each = parseCommand(['logits', '--model', 'm', '--ids', '1', '--out', 'o', '--shard', 'ws://a:1', '--shard', 'ws://b:2', '--token', 'x', '--token', 'y']);
    expect(each).toMatchObject({ load: { shards: [{ token: 'x' }, { token: 'y' }] } });
    expect(usage(['logits', '--model', 'm', '--ids', '1', '--out', 'o', '--shard', 'ws://a:1', '--shard', 'ws://b:2', '--token', 'x', '--token', 'y', '--token', 'z'])).toMatch(/2 --shard need one --token, or one each; got 3/);
    expect(usage(['generate', '--model', 'm', '--ids', '1', '--token', 'x'])).toMatch(/--token goes with --shard/);
    expect(usage(['generate', '--model', 'm', '--ids', '1', '--devices', '0'])).toMatch(/--devices must be an integer >= 1/);
  });

  test('shard and plan', () => {
    expect(parseCommand(['shard', '--model', 'm', '--layers', '2-3', '--token', 't', '--allow-origin', 'http://x:1'])).toEqual({
      kind: 'shard',
      model: 'm',
      layers: { from: 2, to: 4 },
      token: 't',
      port: 9100,
      host: '127.0.0.1',
      allowOrigins: ['http://x:1'],
      load: expect.any(Object),
    });
    expect(usage(['shard', '--model', 'm', '--layers', '2-3', '--token', 't', '--port', '70000'])).toMatch(/--port must be at most 65535/);
    expect(parseCommand(['plan', '--config', 'c.json', '--device', '8GiB', '--remote', '80GiB', '--json'])).toMatchObject({
      kind: 'plan',
      executors: [{ kind: 'device', bytes: 8 * 2 ** 30 }, { kind: 'remote', bytes: 80 * 2 ** 30 }],
      json: true,
    });
    expect(usage(['plan', '--config', 'c.json'])).toMatch(/plan needs at least one --device or --remote/);
    expect(parseCommand(['plan', '--config', 'c.json', '--device', '8GiB', '--kv', 'f32'])).toMatchObject({ kv: 'f32' });
    expect(usage(['plan', '--config', 'c.json', '--device', '8GiB', '--kv', 'bf16'])).toMatch(/--kv must be one of f16, f32, got 'bf16'/);
  });
});
