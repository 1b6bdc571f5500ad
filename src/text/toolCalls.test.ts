import { describe, expect, it } from 'vitest';
import { formatToolCalls, parseToolCalls, pythonJson, type ToolCall } from './toolCalls';

const call = (id: string, name: string, args: unknown): ToolCall => ({ id, type: 'function', function: { name, arguments: JSON.stringify(args) } });

describe('parseToolCalls', () => {
  it('parses the format of MiniMax-M1’s function-call guide', () => {
    // The model output example of MiniMax-AI/MiniMax-M1 docs/function_call_guide.md, after the reasoning.
    const text =
      '<tool_calls>\n' +
      '{"name": "search_web", "arguments": {"query_tag": ["technology", "events"], "query_list": ["\\"OpenAI\\" \\"latest\\" \\"release\\""]}}\n' +
      '{"name": "search_web", "arguments": {"query_tag": ["technology", "events"], "query_list": ["\\"Gemini\\" \\"latest\\" \\"release\\""]}}\n' +
      '</tool_calls>';
    const r = parseToolCalls(text, 'call_');
    expect(r.content).toBe('');
    expect(r.toolCalls).toEqual([
      call('call_0', 'search_web', { query_tag: ['technology', 'events'], query_list: ['"OpenAI" "latest" "release"'] }),
      call('call_1', 'search_web', { query_tag: ['technology', 'events'], query_list: ['"Gemini" "latest" "release"'] }),
    ]);
    expect(JSON.parse(r.toolCalls[0].function.arguments).query_list[0]).toBe('"OpenAI" "latest" "release"');
  });

  it('keeps the text around a block as content', () => {
    const r = parseToolCalls('Let me check.\n<tool_calls>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_calls>\n', 'x');
    expect(r).toEqual({ content: 'Let me check.', toolCalls: [call('x0', 'get_weather', { location: 'Paris' })] });
  });

  it('returns plain text untouched', () => {
    expect(parseToolCalls('  The answer is 4.\n', 'c')).toEqual({ content: '  The answer is 4.\n', toolCalls: [] });
  });

  it('accepts layout variations: pretty-printed, same line, array, no arguments, encoded arguments', () => {
    const r = parseToolCalls(
      '<tool_calls>{"name": "a", "arguments": {\n  "x": 1\n}} {"name": "b"}\n[{"name": "c", "arguments": "{\\"y\\": [2]}"}]</tool_calls>',
      'p',
    );
    expect(r.toolCalls.map((c) => [c.function.name, c.function.arguments])).toEqual([
      ['a', '{"x":1}'],
      ['b', '{}'],
      ['c', '{"y": [2]}'],
    ]);
    expect(r.toolCalls.map((c) => c.id)).toEqual(['p0', 'p1', 'p2']);
  });

  it('numbers calls across several blocks', () => {
    const r = parseToolCalls('<tool_calls>{"name": "a", "arguments": {}}</tool_calls> and <tool_calls>{"name": "b", "arguments": {}}</tool_calls>', 'id');
    expect(r.toolCalls.map((c) => c.id + c.function.name)).toEqual(['id0a', 'id1b']);
    expect(r.content).toBe('and');
  });

  it('gives random default ids that differ between calls', () => {
    const block = '<tool_calls>{"name": "a", "arguments": {}}</tool_calls>';
    const a = parseToolCalls(block).toolCalls[0].id;
    const b = parseToolCalls(block).toolCalls[0].id;
    expect(a).toMatch(/^call_[a-z0-9]+_0$/);
    expect(a).not.toBe(b);
  });

  it('leaves malformed blocks as content, without throwing', () => {
    const malformed = [
      '<tool_calls>\n{"name": "a", "arguments": {"x": 1}\n</tool_calls>', // unbalanced
      '<tool_calls>\n{"name": "a", "arguments": {x: 1}}\n</tool_calls>', // bad JSON
      '<tool_calls>\n{"arguments": {"x": 1}}\n</tool_calls>', // no name
      '<tool_calls>\n{"name": "", "arguments": {}}\n</tool_calls>', // empty name
      '<tool_calls>\n{"name": 3, "arguments": {}}\n</tool_calls>', // name not a string
      '<tool_calls>\n{"name": "a", "arguments": [1]}\n</tool_calls>', // arguments not an object
      '<tool_calls>\n{"name": "a", "arguments": "not json"}\n</tool_calls>', // arguments string not JSON
      '<tool_calls>\nget_weather(Paris)\n</tool_calls>', // not JSON at all
      '<tool_calls>\n{"name": "a", "arguments": {}} trailing\n</tool_calls>', // junk after a call
      '<tool_calls>\n\n</tool_calls>', // empty
      '<tool_calls>\n{"name": "a", "arguments": {}}\n', // unclosed
      '{"name": "a", "arguments": {}}\n</tool_calls>', // never opened
      '<tool_calls>\n"just a string"\n</tool_calls>',
    ];
    for (const text of malformed) expect(parseToolCalls(`Hi ${text}`, 'c'), text).toEqual({ content: `Hi ${text}`, toolCalls: [] });
    // one good block and one bad: the good one is taken, the bad stays
    const r = parseToolCalls('<tool_calls>{"name": "a", "arguments": {}}</tool_calls>\n<tool_calls>{oops}</tool_calls>', 'c');
    expect(r.toolCalls).toHaveLength(1);
    expect(r.content).toBe('<tool_calls>{oops}</tool_calls>');
  });

  it('does not let a stray opening tag swallow a later block', () => {
    const r = parseToolCalls('I will use <tool_calls> tags: <tool_calls>{"name": "a", "arguments": {}}</tool_calls>', 'c');
    expect(r.toolCalls).toHaveLength(1);
    expect(r.content).toBe('I will use <tool_calls> tags:');
  });

  it('handles braces and escaped quotes inside strings', () => {
    const r = parseToolCalls('<tool_calls>\n{"name": "run", "arguments": {"code": "if (x) { y = \\"}\\"; }"}}\n</tool_calls>', 'c');
    expect(JSON.parse(r.toolCalls[0].function.arguments)).toEqual({ code: 'if (x) { y = "}"; }' });
  });
});

describe('formatToolCalls', () => {
  it('writes the block the way the model does, and parses back', () => {
    const calls = [call('c0', 'get_weather', { location: 'Paris', days: [1, 2] }), call('c1', 'search', { q: '日本' })];
    const text = formatToolCalls(calls);
    expect(text).toBe(
      '<tool_calls>\n{"name": "get_weather", "arguments": {"location": "Paris", "days": [1, 2]}}\n{"name": "search", "arguments": {"q": "日本"}}\n</tool_calls>',
    );
    expect(parseToolCalls(text, 'c').toolCalls).toEqual(calls);
  });

  it('writes Python-style JSON', () => {
    expect(pythonJson({ a: [1, { b: null }], c: 'x"y', d: true })).toBe('{"a": [1, {"b": null}], "c": "x\\"y", "d": true}');
  });
});
