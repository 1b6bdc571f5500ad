/**
 * MiniMax-M1 reasons inside `<think>` … `</think>` before answering. ReasoningSplitter routes streamed
 * text to `reasoning_content` / `content`; ThinkingBudget ends the reasoning after a number of tokens.
 */

import { partialStopLength } from './stopStrings';

export const THINK_OPEN = '<think>';
export const THINK_CLOSE_TAG = '</think>';
/** What the engine feeds, as tokens, when the thinking budget is spent; the answer follows it. */
export const THINK_CLOSE = '\n</think>\n\n';
/** MiniMax-M1-40k is trained with a 40k-token thinking budget. */
export const DEFAULT_THINKING_BUDGET = 40000;

/** True when `prompt` leaves a `<think>` block open (the chat template opened it): generation starts in it. */
export function opensThinking(prompt: string): boolean {
  return prompt.lastIndexOf(THINK_OPEN) > prompt.lastIndexOf(THINK_CLOSE_TAG);
}

export interface SplitText {
  reasoning: string;
  content: string;
}

/**
 * Splits streamed text at `<think>` / `</think>`; the tags themselves are dropped, even when they
 * arrive split over several deltas. Text is passed through verbatim (including the newlines the
 * model puts around the tags).
 */
export class ReasoningSplitter {
  private thinking: boolean;
  private held = '';

  constructor(opts: { startsInThinking?: boolean } = {}) {
    // The chat template may have opened <think> in the prompt, so generation starts inside it.
    this.thinking = opts.startsInThinking ?? false;
  }

  get inThinking(): boolean {
    return this.thinking;
  }

  push(delta: string): SplitText {
    const out: SplitText = { reasoning: '', content: '' };
    let text = this.held + delta;
    for (;;) {
      const tag = this.thinking ? THINK_CLOSE_TAG : THINK_OPEN;
      const at = text.indexOf(tag);
      if (at < 0) {
        const keep = partialStopLength(text, [tag]);
        this.route(out, text.slice(0, text.length - keep));
        this.held = text.slice(text.length - keep);
        return out;
      }
      this.route(out, text.slice(0, at));
      this.thinking = !this.thinking;
      text = text.slice(at + tag.length);
    }
  }

  /** At the end of generation: a held-back partial tag turned out to be text. */
  flush(): SplitText {
    const out: SplitText = { reasoning: '', content: '' };
    this.route(out, this.held);
    this.held = '';
    return out;
  }

  private route(out: SplitText, text: string): void {
    if (this.thinking) out.reasoning += text;
    else out.content += text;
  }
}

/**
 * Counts the tokens generated inside `<think>`; when `budgetTokens` of them have been generated,
 * `step` answers 'close' (once): the engine then feeds THINK_CLOSE's tokens and goes on with the answer.
 * A second thinking block after that is left alone.
 */
export class ThinkingBudget {
  /** Set it to true when the prompt itself opened `<think>`. */
  inThinking: boolean;
  readonly budgetTokens: number;
  private spent = 0;
  private closed = false;
  /** Recent text, so that tags split over several tokens are still seen. */
  private tail = '';

  constructor(budgetTokens: number = DEFAULT_THINKING_BUDGET, inThinking = false) {
    if (!(Number.isSafeInteger(budgetTokens) && budgetTokens >= 0) && budgetTokens !== Infinity) {
      throw new RangeError(`thinking budget must be an integer ≥ 0 or Infinity (got ${budgetTokens})`);
    }
    this.budgetTokens = budgetTokens;
    this.inThinking = inThinking;
  }

  /** Thinking tokens generated so far. */
  get used(): number {
    return this.spent;
  }

  /** Call with the text of each generated token, in order. */
  step(tokenText: string): 'continue' | 'close' {
    const wasThinking = this.inThinking;
    this.scan(tokenText);
    if (this.closed || !this.inThinking) return 'continue';
    // The token that opens the block is not thinking yet; checking it too lets a budget of 0 close at once.
    if (wasThinking) this.spent++;
    if (this.spent < this.budgetTokens) return 'continue';
    this.closed = true;
    // The engine is about to close the block itself: tokens it feeds are no longer thinking.
    this.inThinking = false;
    this.tail = '';
    return 'close';
  }

  private scan(text: string): void {
    let t = this.tail + text;
    for (;;) {
      const tag = this.inThinking ? THINK_CLOSE_TAG : THINK_OPEN;
      const at = t.indexOf(tag);
      if (at < 0) break;
      this.inThinking = !this.inThinking;
      t = t.slice(at + tag.length);
    }
    this.tail = t.slice(-(THINK_CLOSE_TAG.length - 1));
  }
}
