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
  private reasoningChars = 0;
  reasoning = '';
  text = '';

  constructor() {
    this.reasoningSummary = el('summary', {}, 'Reasoning');
    this.reasoningText = el('div', { className: 'text' });
    this.reasoningBox = el('details', { className: 'reasoning', hidden: true }, this.reasoningSummary, this.reasoningText);
    this.content = el('div', { className: 'content' });
    this.meta = el('span', { className: 'meta' });
    this.node = el('li', { className: 'turn assistant' }, this.reasoningBox, this.content, this.meta);
    this.node.dataset.testid = 'assistant';
    this.content.dataset.testid = 'reply';
    this.reasoningBox.dataset.testid = 'reasoning';
  }

  add(reasoning: string, content: string): void {
    if (reasoning) {
      this.reasoning += reasoning;
      this.reasoningChars += reasoning.length;
      this.reasoningBox.hidden = false;
      this.reasoningText.append(reasoning);
      this.reasoningSummary.textContent = `Reasoning · ${this.reasoningChars} characters`;
    }
    if (content) {
      this.text += content;
      this.content.append(content);
    }
  }

  toolCalls(calls: ToolCall[]): void {
    for (const c of calls) this.node.insertBefore(el('div', { className: 'tool-call' }, el('b', {}, 'Tool call '), `${c.function.name}(${c.function.arguments})`), this.meta);
  }

  done(meta: string, error = false): void {
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

  assistant(): AssistantTurn {
    const t = new AssistantTurn();
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
