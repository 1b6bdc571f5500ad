import { describe, expect, it } from 'vitest';
import { DEFAULT_THINKING_BUDGET, ReasoningSplitter, THINK_CLOSE, ThinkingBudget } from './thinking';

function split(deltas: string[], startsInThinking = false): { reasoning: string; content: string } {
  const s = new ReasoningSplitter({ startsInThinking });
  const out = { reasoning: '', content: '' };
  for (const d of [...deltas.map((d) => s.push(d)), s.flush()]) {
    out.reasoning += d.reasoning;
    out.content += d.content;
  }
  return out;
}

/** Every way of cutting `text` into two deltas, and one character at a time. */
function cuts(text: string): string[][] {
  const all = [[...text]];
  for (let i = 0; i <= text.length; i++) all.push([text.slice(0, i), text.slice(i)]);
  return all;
}

describe('ReasoningSplitter', () => {
  const output = '<think>\nThe user asks 2+2.\n</think>\n\nIt is 4.';

  it('splits reasoning from content, dropping the tags', () => {
    expect(split([output])).toEqual({ reasoning: '\nThe user asks 2+2.\n', content: '\n\nIt is 4.' });
  });

  it('handles tags split across deltas at every position', () => {
    for (const deltas of cuts(output)) {
      expect(split(deltas), JSON.stringify(deltas)).toEqual({ reasoning: '\nThe user asks 2+2.\n', content: '\n\nIt is 4.' });
    }
  });

  it('starts inside thinking when the prompt opened <think>', () => {
    expect(split(['Let me', ' think.</th', 'ink>Answer.'], true)).toEqual({ reasoning: 'Let me think.', content: 'Answer.' });
  });

  it('streams without waiting for more than a possible tag', () => {
    const s = new ReasoningSplitter({ startsInThinking: true });
    expect(s.push('abc <')).toEqual({ reasoning: 'abc ', content: '' });
    expect(s.push('b>')).toEqual({ reasoning: '<b>', content: '' });
    expect(s.push('x</')).toEqual({ reasoning: 'x', content: '' });
    expect(s.inThinking).toBe(true);
    expect(s.push('think>y')).toEqual({ reasoning: '', content: 'y' });
    expect(s.inThinking).toBe(false);
  });

  it('treats text without tags as content, and a dangling partial tag as text at flush', () => {
    expect(split(['Just an answer.'])).toEqual({ reasoning: '', content: 'Just an answer.' });
    expect(split(['a <thi'])).toEqual({ reasoning: '', content: 'a <thi' });
    expect(split(['unfinished thought </thi'], true)).toEqual({ reasoning: 'unfinished thought </thi', content: '' });
  });

  it('handles the forced close string', () => {
    expect(split(['<think>long thought', THINK_CLOSE, 'Answer'])).toEqual({ reasoning: 'long thought\n', content: '\n\nAnswer' });
  });
});

describe('ThinkingBudget', () => {
  it('defaults to 40k tokens', () => {
    expect(DEFAULT_THINKING_BUDGET).toBe(40000);
    expect(new ThinkingBudget().budgetTokens).toBe(40000);
    expect(THINK_CLOSE).toBe('\n</think>\n\n');
  });

  it('closes once after the budget of thinking tokens', () => {
    const b = new ThinkingBudget(3);
    expect(b.step('Hi')).toBe('continue'); // not thinking: not counted
    expect(b.step('<think>')).toBe('continue');
    expect(b.inThinking).toBe(true);
    expect(b.step('a')).toBe('continue');
    expect(b.step('b')).toBe('continue');
    expect(b.used).toBe(2);
    expect(b.step('c')).toBe('close');
    expect(b.inThinking).toBe(false);
    // the engine feeds the close string; stepping its tokens is harmless
    for (const t of ['\n', '</', 'think', '>\n\n']) expect(b.step(t)).toBe('continue');
    expect(b.inThinking).toBe(false);
    expect(b.step('<think>')).toBe('continue');
    for (let i = 0; i < 10; i++) expect(b.step('x')).toBe('continue');
  });

  it('stops counting when the model closes thinking itself', () => {
    const b = new ThinkingBudget(5, true);
    expect(b.step('a')).toBe('continue');
    expect(b.step('</thi')).toBe('continue');
    expect(b.step('nk>')).toBe('continue');
    expect(b.inThinking).toBe(false);
    for (let i = 0; i < 10; i++) expect(b.step('answer')).toBe('continue');
    expect(b.used).toBe(2); // "a" and "</thi"; the token completing the tag is not
  });

  it('sees an opening tag split over tokens', () => {
    const b = new ThinkingBudget(2);
    b.step('<th');
    expect(b.inThinking).toBe(false);
    b.step('ink>\n');
    expect(b.inThinking).toBe(true);
    expect(b.step('x')).toBe('continue');
    expect(b.step('y')).toBe('close');
  });

  it('closes at once with a budget of 0', () => {
    expect(new ThinkingBudget(0).step('<think>')).toBe('close');
    expect(new ThinkingBudget(Infinity, true).step('x')).toBe('continue');
  });

  it('rejects bad budgets', () => {
    expect(() => new ThinkingBudget(-1)).toThrow(/^thinking budget must be an integer ≥ 0/);
    expect(() => new ThinkingBudget(1.5)).toThrow(/^thinking budget/);
  });
});
