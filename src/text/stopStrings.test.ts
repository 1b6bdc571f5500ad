import { describe, expect, it } from 'vitest';
import { StopMatcher, partialStopLength } from './stopStrings';

/** Feeds the deltas; returns everything emitted (flushed at the end unless stopped) and whether it stopped. */
function run(stops: string[], deltas: string[]): { text: string; stopped: boolean; emits: string[] } {
  const m = new StopMatcher(stops);
  const emits: string[] = [];
  for (const d of deltas) {
    const r = m.push(d);
    emits.push(r.emit);
    if (r.stopped) return { text: emits.join(''), stopped: true, emits };
  }
  emits.push(m.flush());
  return { text: emits.join(''), stopped: false, emits };
}

describe('partialStopLength', () => {
  it('finds the longest suffix that starts a stop string', () => {
    expect(partialStopLength('hello <|en', ['<|end|>'])).toBe(4);
    expect(partialStopLength('hello', ['<|end|>'])).toBe(0);
    expect(partialStopLength('ab', ['abc', 'b'])).toBe(2);
    expect(partialStopLength('xaaa', ['aaab'])).toBe(3);
    expect(partialStopLength('xyz', ['xyz'])).toBe(0); // no proper prefix of "xyz" ends it
  });
});

describe('StopMatcher', () => {
  it('passes text through when there are no stops', () => {
    expect(run([], ['a', 'b']).emits).toEqual(['a', 'b', '']);
    expect(run([''], ['a']).text).toBe('a');
  });

  it('releases text that cannot start a stop string at once', () => {
    const m = new StopMatcher(['STOP']);
    expect(m.push('Hello ')).toEqual({ emit: 'Hello ', stopped: false });
    expect(m.push('wor')).toEqual({ emit: 'wor', stopped: false });
  });

  it('holds back a possible prefix and releases it when it turns out not to be one', () => {
    const m = new StopMatcher(['</answer>']);
    expect(m.push('x </ans')).toEqual({ emit: 'x ', stopped: false });
    expect(m.push('wer? no')).toEqual({ emit: '</answer? no', stopped: false });
    expect(m.flush()).toBe('');
  });

  it('stops on a stop string split across deltas, dropping it', () => {
    expect(run(['</answer>'], ['The answer is 4', '</an', 'sw', 'er>', ' more'])).toEqual({
      text: 'The answer is 4',
      stopped: true,
      emits: ['The answer is 4', '', '', ''],
    });
    expect(run(['\n\nUser:'], ['Hi!', '\n', '\nUs', 'er: next']).text).toBe('Hi!');
  });

  it('stops on one inside a delta, with text after it dropped', () => {
    expect(run(['###'], ['abc###def'])).toMatchObject({ text: 'abc', stopped: true });
  });

  it('honours the earliest of several stop strings', () => {
    expect(run(['world', 'lo w'], ['hel', 'lo', ' world'])).toMatchObject({ text: 'hel', stopped: true });
    expect(run(['ab', 'b'], ['xa', 'b'])).toMatchObject({ text: 'x', stopped: true });
  });

  it('handles a stop string at the very start and one char at a time', () => {
    expect(run(['<s>'], ['<', 's', '>', 'x'])).toMatchObject({ text: '', stopped: true });
    const text = 'one two END three';
    expect(run(['END'], [...text])).toMatchObject({ text: 'one two ', stopped: true });
  });

  it('releases a held prefix at flush when generation ends', () => {
    expect(run(['<|end|>'], ['done <|e'])).toEqual({ text: 'done <|e', stopped: false, emits: ['done ', '<|e'] });
  });

  it('stays stopped', () => {
    const m = new StopMatcher(['x']);
    expect(m.push('ax')).toEqual({ emit: 'a', stopped: true });
    expect(m.stopped).toBe(true);
    expect(m.push('more')).toEqual({ emit: '', stopped: true });
    expect(m.flush()).toBe('');
  });

  it('works with non-BMP characters', () => {
    expect(run(['🙂🙂'], ['a🙂', '🙂b'])).toMatchObject({ text: 'a', stopped: true });
  });
});
