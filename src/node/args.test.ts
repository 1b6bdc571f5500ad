import { describe, expect, test } from 'vitest';
import { parseCommand, parseIds, UsageError } from './args';

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
