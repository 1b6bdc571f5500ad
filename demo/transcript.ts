/**
 * The chat as the page shows it: user turns, and assistant turns whose reasoning (<think>) sits apart
 * in a collapsible block, with tool calls shown as calls, not as text.
 */
import type { ToolCall } from '../src/index';
import { el } from './format';

export class AssistantTurn {
  readonly node: HTMLLIElement;
  private readonly reasoningBox: HTMLDetailsElement;
  private readonly reasoningSummary: HTMLElement;
  private readonly reasoningText: HTMLElement;
  private readonly content: HTMLElement;
  private readonly meta: HTMLElement;
  private reasoningTokens = 0;
  reasoning = '';
  text = '';

  /** `continues`: the text this reply continues (a model without a chat template), shown before it. */
  constructor(continues?: string) {
    this.reasoningSummary = el('summary', {}, 'Reasoning');
    this.reasoningText = el('div', { className: 'text' });
    this.reasoningBox = el('details', { className: 'reasoning', hidden: true }, this.reasoningSummary, this.reasoningText);
    this.content = el('span', { className: 'content' });
    this.meta = el('span', { className: 'meta' });
    const prompt = continues === undefined ? [] : [el('span', { className: 'prompt' }, continues)];
    this.node = el('li', { className: 'turn assistant streaming' }, this.reasoningBox, el('div', {}, ...prompt, this.content), this.meta);
    this.node.dataset.testid = 'assistant';
    this.content.dataset.testid = 'reply';
    this.reasoningBox.dataset.testid = 'reasoning';
  }

  /** Called once a token: the count is on the node (data-tokens) for whoever watches. */
  add(reasoning: string, content: string): void {
    this.node.dataset.tokens = String(Number(this.node.dataset.tokens ?? 0) + 1);
    if (reasoning) {
      this.reasoning += reasoning;
      this.reasoningTokens++;
      // Open while the model thinks; it folds away when the answer starts.
      if (this.reasoningBox.hidden) this.reasoningBox.open = true;
      this.reasoningBox.hidden = false;
      this.reasoningText.append(reasoning);
      this.reasoningSummary.textContent = `Reasoning · ${this.reasoningTokens} tokens`;
    }
    // The newlines around </think> are the model's, not the answer's.
    const shown = this.text || this.reasoningBox.hidden ? content : content.trimStart();
    if (content) this.text += content;
    if (shown) {
      if (this.content.childNodes.length === 0) this.reasoningBox.open = false;
      this.content.append(shown);
    }
  }

  toolCalls(calls: ToolCall[]): void {
    for (const c of calls) this.node.insertBefore(el('div', { className: 'tool-call' }, el('b', {}, 'Tool call '), `${c.function.name}(${c.function.arguments})`), this.meta);
  }

  done(meta: string, error = false): void {
    this.node.classList.remove('streaming');
    // The newline before </think> is the model's too.
    if (this.reasoning) this.reasoningText.textContent = this.reasoning.trimEnd();
    this.meta.textContent = meta;
    this.meta.classList.toggle('error', error);
  }
}

export class Transcript {
  constructor(private readonly list: HTMLElement) {}

  user(text: string): void {
    this.list.append(el('li', { className: 'turn user' }, text));
    this.scroll();
  }

  assistant(continues?: string): AssistantTurn {
    const t = new AssistantTurn(continues);
    this.list.append(t.node);
    this.scroll();
    return t;
  }

  clear(): void {
    this.list.replaceChildren();
  }

  scroll(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }
}
