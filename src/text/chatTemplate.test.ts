/**
 * minimax-m1-chat-template.jinja is the `chat_template` of tokenizer_config.json in the
 * MiniMax-AI/MiniMax-M1 GitHub repository (commit a2328261e3faf6b1262a6dea55442bc1083b46da), written
 * out verbatim (JSON string unescaped).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyChatTemplate, type ChatMessage, type ToolDef } from './chatTemplate';
import { parseToolCalls } from './toolCalls';

const MINIMAX = readFileSync(new URL('./minimax-m1-chat-template.jinja', import.meta.url), 'utf8');

const weatherTool: ToolDef = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

describe('applyChatTemplate with MiniMax-M1’s template', () => {
  it('renders system, tools, user and the generation prompt', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Weather in Paris?' },
    ];
    const text = applyChatTemplate(MINIMAX, messages, { tools: [weatherTool], addGenerationPrompt: true });
    expect(text).toBe(
      '<begin_of_document>' +
        '<beginning_of_sentence>system ai_setting=assistant\nYou are a helpful assistant.<end_of_sentence>\n' +
        '<beginning_of_sentence>system tool_setting=tools\nYou are provided with these tools:\n<tools>\n' +
        '{"name": "get_weather", "description": "Current weather for a city", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}\n' +
        '</tools>\n\nIf you need to call tools, please respond with <tool_calls></tool_calls> XML tags, and provide tool-name and json-object of arguments, following the format below:\n' +
        '<tool_calls>\n{"name": <tool-name-1>, "arguments": <args-json-object-1>}\n...\n</tool_calls><end_of_sentence>\n' +
        '<beginning_of_sentence>user name=user\nWeather in Paris?<end_of_sentence>\n' +
        '<beginning_of_sentence>ai name=assistant\n',
    );
    // The generation prompt opens the assistant turn only: it does not open <think>; the model does.
    expect(text.endsWith('<beginning_of_sentence>ai name=assistant\n')).toBe(true);
    expect(text).not.toContain('<think>');
  });

  it('leaves out the generation prompt and the tool section when not asked for', () => {
    const text = applyChatTemplate(MINIMAX, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false });
    expect(text).toBe('<begin_of_document><beginning_of_sentence>user name=user\nHi<end_of_sentence>\n');
  });

  it('puts earlier tool calls and their results back in the model’s own format', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c0', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
          { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c0', content: 'sunny' },
      { role: 'tool', tool_call_id: 'c1', name: 'get_weather', content: 'rain' },
      { role: 'assistant', content: 'Paris is sunny, Rome rainy.' },
      { role: 'user', content: 'Thanks' },
    ];
    const text = applyChatTemplate(MINIMAX, messages, { tools: [weatherTool] });
    const turns = text.slice(text.indexOf('<beginning_of_sentence>user')).split('<end_of_sentence>\n');
    expect(turns).toEqual([
      '<beginning_of_sentence>user name=user\nWeather in Paris and Rome?',
      '<beginning_of_sentence>ai name=assistant\n<tool_calls>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n{"name": "get_weather", "arguments": {"location": "Rome"}}\n</tool_calls>',
      '<beginning_of_sentence>tool name=tools\ntool name: get_weather\ntool result: sunny\n\ntool name: get_weather\ntool result: rain\n\n',
      '<beginning_of_sentence>ai name=assistant\nParis is sunny, Rome rainy.',
      '<beginning_of_sentence>user name=user\nThanks',
      '<beginning_of_sentence>ai name=assistant\n',
    ]);
    // what the model is shown is what parseToolCalls reads
    expect(parseToolCalls(turns[1].split('\n').slice(1).join('\n'), 'c').toolCalls).toEqual(messages[1].tool_calls);
  });

  it('joins several system messages and keeps text before tool calls', () => {
    const text = applyChatTemplate(MINIMAX, [
      { role: 'system', content: 'A.' },
      { role: 'system', content: ' B.' },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'x', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ]);
    expect(text).toContain('ai_setting=assistant\nA. B.<end_of_sentence>');
    expect(text).toContain('ai name=assistant\nChecking.\n<tool_calls>\n{"name": "f", "arguments": {}}\n</tool_calls><end_of_sentence>');
  });
});

describe('applyChatTemplate with other templates', () => {
  const chatml =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}<call>{{ c.function.name }} {{ c.function.arguments | tojson }}</call>{% endfor %}{% endif %}<|im_end|>\n{% endfor %}" +
    '{% if tools %}TOOLS {{ tools | tojson }}\n{% endif %}{% if add_generation_prompt %}<|im_start|>assistant\n{% if enable_thinking %}<think>\n{% endif %}{% endif %}';

  it('passes OpenAI messages as they are, with tool-call arguments decoded', () => {
    const text = applyChatTemplate(
      chatml,
      [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }] },
      ],
      { tools: [weatherTool], extra: { enable_thinking: true } },
    );
    expect(text).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<call>f {"x": 1}</call><|im_end|>\n' +
        `TOOLS [{"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]\n` +
        '<|im_start|>assistant\n<think>\n',
    );
  });

  it('passes bos/eos tokens', () => {
    const t = '{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}';
    expect(applyChatTemplate(t, [{ role: 'user', content: 'x' }], { bosToken: '<s>', eosToken: '</s>' })).toBe('<s>x</s>');
  });

  it('gives content parts to templates that index them', () => {
    const t = "{% for m in messages %}[{{ m['content'][0]['text'] }}]{% endfor %}";
    expect(applyChatTemplate(t, [{ role: 'user', content: 'a' }, { role: 'assistant', content: null }])).toBe('[a][]');
  });

  it('reports template errors', () => {
    expect(() => applyChatTemplate('{% for %}', [])).toThrow(/^chat template: cannot parse it/);
    expect(() => applyChatTemplate("{{ raise_exception('no system role') }}", [])).toThrow(/^chat template: rendering failed \(.*no system role/);
  });
});

describe('applyChatTemplate without a template', () => {
  it('uses role-labelled paragraphs', () => {
    const text = applyChatTemplate(
      null,
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'c', content: 'sunny' },
      ],
      { tools: [weatherTool], bosToken: '<s>' },
    );
    expect(text).toBe(
      '<s>System: Be brief.\n\n' +
        'Tools: to call tools, answer with a <tool_calls> block holding one {"name": ..., "arguments": {...}} JSON object per line.\n' +
        JSON.stringify(weatherTool.function) +
        '\n\nUser: Weather?\n\n' +
        'Assistant: <tool_calls>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_calls>\n\n' +
        'Tool result (get_weather): sunny\n\n' +
        'Assistant:',
    );
    expect(applyChatTemplate(null, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false })).toBe('User: Hi');
  });
});
