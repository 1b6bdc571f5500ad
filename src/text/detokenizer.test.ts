import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../model/source';
import { StreamingDetokenizer } from './detokenizer';
import { loadTokenizer, type Tokenizer } from './tokenizer';

const dir = '/work/shared/models/stories260k';
const read = (f: string) => readFileSync(`${dir}/${f}`, 'utf8');

/** Streams `ids` one at a time; returns the deltas, the flush included. */
function stream(tok: { decode(ids: number[]): string }, ids: number[], promptIds?: number[]): string[] {
  const d = new StreamingDetokenizer(tok, promptIds);
  const out = ids.map((id) => d.push(id));
  out.push(d.flush());
  return out;
}

describe('StreamingDetokenizer with stories260k (byte-fallback SentencePiece BPE)', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    const src = memorySource('stories260k', { 'tokenizer.json': read('tokenizer.json'), 'tokenizer_config.json': read('tokenizer_config.json') });
    tok = (await loadTokenizer(src))!;
  });

  const text = 'Once upon a time, café 日本 🙂 there was a dog. 🙂🙂 é!';

  it('has byte tokens arriving one at a time in this text', () => {
    const ids = tok.encode(text);
    expect(ids.map((i) => tok.decode([i])).filter((s) => s.includes('\uFFFD')).length).toBeGreaterThanOrEqual(10);
  });

  it('emits decode(all ids) in pieces, never a partial character', () => {
    const ids = tok.encode(text);
    const deltas = stream(tok, ids);
    expect(deltas.join('')).toBe(tok.decode(ids));
    expect(deltas.join('')).toBe(text);
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
  });

  it('releases a multi-byte character with its last byte', () => {
    const ids = tok.encode('a 日 b');
    const deltas = stream(tok, ids);
    const at = deltas.findIndex((d) => d.includes('日'));
    // the three byte tokens of 日 are consecutive; it appears at the third one, no later
    expect(tok.decode(ids.slice(0, at + 1))).toContain('日');
    expect(tok.decode(ids.slice(0, at))).not.toContain('日');
    expect(deltas.slice(at - 2, at)).toEqual(['', '']);
  });

  it('keeps the leading space of the first generated token after a prompt', () => {
    const ids = tok.encode(text);
    for (let k = 1; k < ids.length; k++) {
      const prompt = ids.slice(0, k);
      if (tok.decode(prompt).includes('\uFFFD')) continue; // a prompt ends on a character boundary
      const deltas = stream(tok, ids.slice(k), prompt);
      const full = tok.decode(ids);
      expect(full.startsWith(tok.decode(prompt)), `k=${k}`).toBe(true);
      expect(deltas.join(''), `k=${k}`).toBe(full.slice(tok.decode(prompt).length));
      for (const d of deltas) expect(d).not.toContain('\uFFFD');
    }
    // without the prompt the decoder would drop the space before "upon"
    expect(stream(tok, tok.encode('Once upon').slice(2), tok.encode('Once upon').slice(0, 2)).join('')).toBe(' upon');
  });

  it('round-trips the tokenizer test corpus', () => {
    const { cases } = JSON.parse(read('tokenizer_cases.json')) as { cases: { text: string; ids: number[] }[] };
    for (const { ids } of cases) {
      const deltas = stream(tok, ids);
      expect(deltas.join('')).toBe(tok.decode(ids));
      if (!tok.decode(ids).includes('\uFFFD')) for (const d of deltas) expect(d).not.toContain('\uFFFD');
    }
  });
});

describe('StreamingDetokenizer with a toy byte tokenizer', () => {
  // id = byte value; decode strips one leading space, like SentencePiece's Strip decoder.
  const toy = { decode: (ids: number[]) => new TextDecoder().decode(Uint8Array.from(ids)).replace(/^ /, '') };
  const bytes = (s: string) => [...new TextEncoder().encode(s)];

  it('emits complete characters and handles the stripped space', () => {
    const deltas = stream(toy, bytes(' héllo 🙂'));
    expect(deltas.join('')).toBe('héllo 🙂');
    expect(deltas.filter((d) => d !== '')).toEqual(['h', 'é', 'l', 'l', 'o', ' ', '🙂']);
  });

  it('emits an incomplete character as U+FFFD at flush', () => {
    const d = new StreamingDetokenizer(toy);
    const out = bytes('a🙂').slice(0, 3).map((b) => d.push(b));
    expect(out).toEqual(['a', '', '']);
    expect(d.flush()).toBe('\uFFFD');
    expect(d.flush()).toBe('');
  });

  it('emits nothing for tokens that decode to nothing', () => {
    const skip = { decode: (ids: number[]) => toy.decode(ids.filter((i) => i !== 0)) };
    expect(stream(skip, [0, ...bytes('ab'), 0, 0, ...bytes('c')]).join('')).toBe('abc');
  });
});
