import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { memorySource } from '../model/source';
import { nodeSource } from '../node/source';
import { loadTokenizer } from './tokenizer';

const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');
const stories = path.join(shared, 'models/stories260k');

interface Case {
  text: string;
  ids: number[];
  hf_tokenizer_json_agrees: boolean;
}

describe('loadTokenizer (stories260k)', async () => {
  const tok = (await loadTokenizer(nodeSource(stories)))!;
  const { cases } = JSON.parse(await readFile(path.join(stories, 'tokenizer_cases.json'), 'utf8')) as { cases: Case[] };

  test('encode adds BOS like the post-processor says', async () => {
    const expected = JSON.parse(await readFile(path.join(stories, 'expected.json'), 'utf8'));
    const p = expected.dtypes.float32.prompts[0];
    expect(p.prompt).toBe('Once upon a time');
    expect(tok.encode(p.prompt)).toEqual([1, 403, 407, 261, 378]);
    expect(tok.encode(p.prompt)).toEqual(p.input_ids);
    expect(tok.decode(p.greedy_ids)).toBe(p.greedy_text);
    expect(tok.decode([...p.input_ids, ...p.greedy_ids])).toBe(p.full_text);
  });

  // Cases with U+2581 or a literal special-token string differ from llama2.c by design (see the file's note).
  test('agrees with llama2.c on the tokenizer cases', () => {
    const agreeing = cases.filter((c) => c.hf_tokenizer_json_agrees);
    expect(agreeing.length).toBeGreaterThan(200);
    for (const c of agreeing) {
      expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(tok.decode(c.ids), JSON.stringify(c.text)).toBe(c.text);
    }
  });

  test('empty input', () => {
    expect(tok.encode('')).toEqual([1]);
    expect(tok.decode([])).toBe('');
    expect(tok.decode([1, 2])).toBe(''); // special tokens are left out
  });

  test('byte fallback: multi-byte characters round-trip', () => {
    for (const text of ['emoji 😀 and 中文 and Ж', 'café naïve ñandú']) {
      expect(cases.some((c) => c.text === text)).toBe(true);
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });
});

test('no tokenizer.json → null', async () => {
  expect(await loadTokenizer(nodeSource(path.join(shared, 'golden/tiny_pow2_f32')))).toBeNull();
});

test('a broken tokenizer.json names the file', async () => {
  await expect(loadTokenizer(memorySource('m', { 'tokenizer.json': '{' }))).rejects.toThrow('m/tokenizer.json: not valid JSON');
});

describe('special tokens in decoded text', () => {
  test('BOS/EOS are left out, reasoning and tool-call tags are kept even when marked special', async () => {
    const pieces = ['<unk>', '<s>', '</s>', '<think>', '</think>', '<tool_calls>', '</tool_calls>', 'a', 'b'];
    const json = {
      version: '1.0',
      added_tokens: pieces.map((content, id) => ({ id, content, special: id < 7, single_word: false, lstrip: false, rstrip: false, normalized: false })),
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Fuse' },
      model: { type: 'WordLevel', vocab: Object.fromEntries(pieces.map((p, i) => [p, i])), unk_token: '<unk>' },
    };
    const tok = (await loadTokenizer(memorySource('tags', { 'tokenizer.json': JSON.stringify(json) })))!;
    expect(tok.decode([1, 3, 7, 4, 5, 8, 6, 2])).toBe('<think>a</think><tool_calls>b</tool_calls>');
  });
});
