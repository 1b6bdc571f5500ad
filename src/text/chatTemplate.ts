/**
 * OpenAI-style chat messages → prompt text, through the model's Jinja chat template
 * (tokenizer_config.json `chat_template`) rendered with @huggingface/jinja.
 *
 * MiniMax-M1's own template does not take OpenAI messages as they are, so they are adapted:
 *  - it reads `message['content'][0]['text']`: string content becomes `[{type: 'text', text}]`;
 *  - it prints only the text of assistant messages: earlier tool calls are written into that text as
 *    the `<tool_calls>` block the model emits;
 *  - it prints tool results as `tool name: …` / `tool result: …` parts of one `tool` message: consecutive
 *    `tool` messages are merged, each part named after its call;
 *  - it prints each tool with `tojson`, and its docs show bare `{name, description, parameters}`
 *    objects: the OpenAI `{type: 'function', function: …}` wrapper is removed.
 * Other templates get the messages as transformers and vLLM pass them (tool-call arguments decoded).
 */

import { Template } from '@huggingface/jinja';
import { formatToolCalls, type ToolCall } from './toolCalls';

export type { ToolCall };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  /** assistant: the calls it made. */
  tool_calls?: ToolCall[];
  /** tool: the call this is the result of. */
  tool_call_id?: string;
  /** tool: the function's name (looked up from tool_call_id when absent). */
  name?: string;
}

export interface ToolDef {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface ChatTemplateOptions {
  tools?: ToolDef[];
  /** End with the opening of an assistant turn; default true (this is for generating replies). */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** More template variables, e.g. `enable_thinking` for templates that read it. */
  extra?: Record<string, unknown>;
}

/** Templates that index the content as a list of parts, as MiniMax-M1's does. */
function usesContentParts(template: string): boolean {
  return /(?:\[\s*['"]content['"]\s*\]|\.content)\s*\[\s*0\s*\]/.test(template);
}

/** MiniMax-M1's template, recognised by its tool system-prompt header. */
function isMiniMaxM1(template: string): boolean {
  return template.includes('tool_setting=tools');
}

type TemplateMessage = Record<string, unknown>;

function decodeArguments(call: ToolCall): Record<string, unknown> {
  let args: unknown = call.function.arguments;
  try {
    args = JSON.parse(call.function.arguments);
  } catch {
    // leave a string that is not JSON as it is
  }
  return { ...call, function: { ...call.function, arguments: args } };
}

function toolName(messages: readonly ChatMessage[], m: ChatMessage): string {
  if (m.name) return m.name;
  for (const prev of messages) for (const c of prev.tool_calls ?? []) if (c.id === m.tool_call_id) return c.function.name;
  return 'tool';
}

function miniMaxMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  const out: TemplateMessage[] = [];
  for (const m of messages) {
    const text = m.content ?? '';
    if (m.role === 'tool') {
      const part = { type: 'text', name: toolName(messages, m), text };
      const last = out.at(-1);
      if (last?.role === 'tool') (last.content as unknown[]).push(part);
      else out.push({ role: 'tool', content: [part] });
    } else if (m.role === 'assistant' && m.tool_calls?.length) {
      const calls = formatToolCalls(m.tool_calls);
      out.push({ role: 'assistant', content: [{ type: 'text', text: text ? `${text}\n${calls}` : calls }] });
    } else {
      out.push({ role: m.role, content: [{ type: 'text', text }] });
    }
  }
  return out;
}

function genericMessages(messages: readonly ChatMessage[], parts: boolean): TemplateMessage[] {
  return messages.map((m) => {
    const out: TemplateMessage = { role: m.role, content: parts ? [{ type: 'text', text: m.content ?? '' }] : m.content };
    if (m.tool_calls) out.tool_calls = m.tool_calls.map(decodeArguments);
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (m.role === 'tool' || m.name !== undefined) out.name = m.role === 'tool' ? toolName(messages, m) : m.name;
    return out;
  });
}

/**
 * Used when the model has no chat template: plain role-labelled paragraphs, which small base models
 * continue sensibly, with tools described in the MiniMax-M1 `<tool_calls>` convention so that
 * parseToolCalls reads the answer:
 *
 *   {bos}System: …\n\nTools: …\n\nUser: …\n\nAssistant: …\n\nTool result (name): …\n\nAssistant:
 */
function fallback(messages: readonly ChatMessage[], opts: ChatTemplateOptions): string {
  const blocks: string[] = [];
  for (const m of messages.filter((m) => m.role === 'system')) blocks.push(`System: ${m.content ?? ''}`);
  if (opts.tools?.length) {
    blocks.push(
      'Tools: to call tools, answer with a <tool_calls> block holding one {"name": ..., "arguments": {...}} JSON object per line.\n' +
        opts.tools.map((t) => JSON.stringify(t.function)).join('\n'),
    );
  }
  for (const m of messages) {
    if (m.role === 'user') blocks.push(`User: ${m.content ?? ''}`);
    else if (m.role === 'assistant') {
      const calls = m.tool_calls?.length ? formatToolCalls(m.tool_calls) : '';
      blocks.push(`Assistant: ${[m.content ?? '', calls].filter(Boolean).join('\n')}`);
    } else if (m.role === 'tool') blocks.push(`Tool result (${toolName(messages, m)}): ${m.content ?? ''}`);
  }
  if (opts.addGenerationPrompt ?? true) blocks.push('Assistant:');
  return (opts.bosToken ?? '') + blocks.join('\n\n');
}

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (t === undefined) {
    try {
      t = new Template(source);
    } catch (e) {
      throw new Error(`chat template: cannot parse it (${(e as Error).message})`, { cause: e });
    }
    if (compiled.size >= 4) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, t);
  }
  return t;
}

export function applyChatTemplate(template: string | null, messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
  if (template === null) return fallback(messages, opts);
  const minimax = isMiniMaxM1(template);
  const context: Record<string, unknown> = {
    ...opts.extra,
    messages: minimax ? miniMaxMessages(messages) : genericMessages(messages, usesContentParts(template)),
    add_generation_prompt: opts.addGenerationPrompt ?? true,
  };
  if (opts.tools?.length) context.tools = minimax ? opts.tools.map((t) => t.function) : opts.tools;
  if (opts.bosToken !== undefined) context.bos_token = opts.bosToken;
  if (opts.eosToken !== undefined) context.eos_token = opts.eosToken;
  const compiledTemplate = compile(template);
  try {
    return compiledTemplate.render(context);
  } catch (e) {
    throw new Error(`chat template: rendering failed (${(e as Error).message})`, { cause: e });
  }
}
