/**
 * MiniMax-M1 function calls. The model answers a call as (MiniMax-M1 docs/function_call_guide.md):
 *
 *   <tool_calls>
 *   {"name": "search_web", "arguments": {"query_list": ["..."]}}
 *   {"name": "get_weather", "arguments": {"location": "Paris"}}
 *   </tool_calls>
 *
 * one JSON object per line. Parsing here is lenient about layout (objects may span lines or share
 * one) but strict about content: a block that is not entirely valid calls stays text.
 */

export const TOOL_CALLS_OPEN = '<tool_calls>';
export const TOOL_CALLS_CLOSE = '</tool_calls>';

/** OpenAI's shape: `arguments` is a JSON string. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A block's whole body; the inner group refuses a nested opening tag so a stray one stays text. */
const BLOCK = /<tool_calls>((?:(?!<tool_calls>)[\s\S])*?)<\/tool_calls>/g;

/** The top-level JSON objects/arrays of `body` as source strings; null if anything else is there. */
function jsonValues(body: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    while (i < body.length && /\s/.test(body[i])) i++;
    if (i === body.length) return out;
    if (body[i] !== '{' && body[i] !== '[') return null;
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < body.length; i++) {
      const c = body[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if ((c === '}' || c === ']') && --depth === 0) break;
    }
    if (i === body.length) return null; // unbalanced
    out.push(body.slice(start, ++i));
  }
}

/** `{name, arguments}` → [name, arguments as a JSON string], or null when it is not a valid call. */
function toCall(v: unknown): [string, string] | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const { name, arguments: args } = v as { name?: unknown; arguments?: unknown };
  if (typeof name !== 'string' || name === '') return null;
  const isObject = (a: unknown) => typeof a === 'object' && a !== null && !Array.isArray(a);
  if (args === undefined) return [name, '{}'];
  if (isObject(args)) return [name, JSON.stringify(args)];
  // Some models write the arguments already encoded; accept that only if it decodes to an object.
  if (typeof args === 'string') {
    try {
      if (isObject(JSON.parse(args))) return [name, args];
    } catch {
      // not JSON
    }
  }
  return null;
}

/** The calls of one block body, or null when any part of it is malformed. */
function parseBlock(body: string): [string, string][] | null {
  const sources = jsonValues(body);
  if (sources === null || sources.length === 0) return null;
  const calls: [string, string][] = [];
  for (const src of sources) {
    let v: unknown;
    try {
      v = JSON.parse(src);
    } catch {
      return null;
    }
    for (const item of Array.isArray(v) ? v : [v]) {
      const call = toCall(item);
      if (call === null) return null;
      calls.push(call);
    }
  }
  return calls;
}

/**
 * Extracts the `<tool_calls>` blocks of a model answer (its content, after the reasoning was split
 * off). Text outside valid blocks is the content, trimmed when a block was taken out of it. Ids are
 * `${idPrefix}${n}`; the default prefix is random so that ids stay unique across turns.
 */
export function parseToolCalls(text: string, idPrefix?: string): { content: string; toolCalls: ToolCall[] } {
  const prefix = idPrefix ?? `call_${Math.random().toString(36).slice(2, 10)}_`;
  const toolCalls: ToolCall[] = [];
  const content = text.replace(BLOCK, (block, body: string) => {
    const calls = parseBlock(body);
    if (calls === null) return block;
    for (const [name, args] of calls) {
      toolCalls.push({ id: `${prefix}${toolCalls.length}`, type: 'function', function: { name, arguments: args } });
    }
    return '';
  });
  return { content: toolCalls.length > 0 ? content.trim() : text, toolCalls };
}

/** JSON the way Python's json.dumps(ensure_ascii=False) writes it, as in MiniMax-M1's prompts. */
export function pythonJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pythonJson).join(', ')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}: ${pythonJson(x)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A `<tool_calls>` block as the model writes it, for putting earlier calls back into a prompt. */
export function formatToolCalls(calls: readonly Pick<ToolCall, 'function'>[]): string {
  const lines = calls.map(({ function: f }) => {
    let args: unknown = f.arguments;
    try {
      args = JSON.parse(f.arguments);
    } catch {
      // keep the string as it is
    }
    return pythonJson({ name: f.name, arguments: args });
  });
  return `${TOOL_CALLS_OPEN}\n${lines.join('\n')}\n${TOOL_CALLS_CLOSE}`;
}
