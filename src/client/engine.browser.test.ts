import { describe, expect, it } from 'vitest';
import { sharedJson, sharedUrl } from '../engine/fixtures';
import { makeScriptedModel } from '../engine/testing/scriptedModel';
import { DEFAULT_CONFIG, makeDefaultModel } from '../model/defaultModel';
import { maxAbsDiff } from '../gpu/testing';
import { memorySource } from '../model/source';
import { ConfigError } from '../model/config';
import { CheckpointError } from '../model/safetensors';
import { createEngine, type Engine } from './engine';



const stories = sharedUrl('models/stories260k/');

describe('createEngine on stories260k', async () => {
  const expected = (await sharedJson('models/stories260k/expected.json')).dtypes.float32.prompts[0];
  let engine: Engine;

  it('loads in a worker, reporting every phase', async () => {
    const phases = new Set<string>();
    engine = await createEngine({ model: stories, onProgress: (p) => phases.add(p.phase) });
    expect(engine.info.config.vocabSize).toBe(512);
    expect([...phases]).toEqual(expect.arrayContaining(['upload', 'compile']));
  });

  it('streams the greedy continuation of "Once upon a time"', async () => {
    const ids: number[] = [];
    let text = '';
    const gen = engine.generate('Once upon a time', { maxTokens: 64, sampling: { temperature: 0 }, onToken: (c) => ids.push(c.token) });
    for await (const c of gen) text += c.text;
    const r = await gen.result;
    expect(ids.filter((i) => i >= 0)).toEqual(expected.greedy_ids);
    expect(text).toBe(expected.greedy_text);
    expect(r.finishReason).toBe('length');
    expect(r.usage.promptTokens).toBe(5);
    expect(r.usage.completionTokens).toBe(64);
    expect(r.usage.decodeTokensPerSecond).toBeGreaterThan(0);
  });

  it('scores: logits of every position', async () => {
    const logits = await engine.logits(expected.input_ids);
    expect(logits.length).toBe(5 * 512);
    expect(maxAbsDiff(logits.subarray(4 * 512), expected.first_step_logits)).toBeLessThan(2e-3);
  });

  it('same seed, same sample; another seed, another sample', async () => {
    const run = async (seed: number) => (await engine.generate('Once upon a time', { maxTokens: 24, sampling: { temperature: 1, topP: 0.95, seed } }).result).ids;
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
  });

  it('stop strings end the text before them', async () => {
    const r = await engine.generate('Once upon a time', { maxTokens: 64, sampling: { temperature: 0 }, stop: ['Lily'] }).result;
    expect(r.text).toBe(', there was a little girl named ');
    expect(r.finishReason).toBe('stop');
  });

  it('abort stops within one token, and the engine goes on', async () => {
    const ctl = new AbortController();
    let n = 0;
    const gen = engine.generate('Once upon a time', { maxTokens: 64, sampling: { temperature: 0 }, signal: ctl.signal, onToken: () => ++n === 3 && ctl.abort() });
    await expect(gen.result).rejects.toThrow(expect.objectContaining({ name: 'AbortError' }));
    expect(n).toBeLessThanOrEqual(4);
    const r = await engine.generate('Once upon a time', { maxTokens: 8, sampling: { temperature: 0 } }).result;
    expect(r.ids).toEqual(expected.greedy_ids.slice(0, 8));
  });

  it('unload frees the engine', async () => {
    await engine.unload();
  });
});

describe('createEngine in the calling thread', () => {
  it('gives the same continuation as the worker', async () => {
    const engine = await createEngine({ model: stories, worker: false });
    const expected = (await sharedJson('models/stories260k/expected.json')).dtypes.float32.prompts[3];
    const r = await engine.generate(expected.prompt, { maxTokens: 64, sampling: { temperature: 0 } }).result;
    expect(r.ids).toEqual(expected.greedy_ids);
    await engine.unload();
    await expect(engine.generate('x').result).rejects.toThrow(/no model is loaded/);
  });

  it('an aborted load rejects with AbortError', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(createEngine({ model: stories, signal: ctl.signal })).rejects.toThrow(expect.objectContaining({ name: 'AbortError' }));
  });

  it('a bad model folder is reported, and a good one loads after it', async () => {
    await expect(createEngine({ model: sharedUrl('models/nowhere/') })).rejects.toThrow(/models\/nowhere\/config\.json: not found/);
    const engine = await createEngine({ model: stories });
    await engine.unload();
  });

  it('errors keep their class and fields across the worker', async () => {
    const bad = memorySource('bad', { 'config.json': JSON.stringify({ ...DEFAULT_CONFIG, num_hidden_layers: -1 }) });
    for (const worker of [true, false]) {
      const e = await createEngine({ model: worker ? sharedUrl('models/nowhere/') : bad, worker }).catch((x) => x);
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.file).toMatch(/config\.json$/);
    }
    // A checkpoint error from inside the worker: its tensor named, its class kept.
    const bytes = await (await fetch(sharedUrl('models/stories260k/model.safetensors'))).arrayBuffer();
    const files = ['config.json', 'tokenizer.json'].map(async (f) => new File([await (await fetch(sharedUrl(`models/stories260k/${f}`))).arrayBuffer()], f));
    const truncated = [...(await Promise.all(files)), new File([bytes.slice(0, bytes.byteLength - 100)], 'model.safetensors')];
    const e = await createEngine({ model: truncated }).catch((x) => x);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.file).toBe('model.safetensors');
  });

  it('await engine.generate(...) gives the result', async () => {
    const engine = await createEngine({ model: stories });
    const r = await engine.generate('Once upon a time', { maxTokens: 4, sampling: { temperature: 0 } });
    expect(r.ids).toHaveLength(4);
    expect(r.finishReason).toBe('length');
    await engine.unload();
  });
});

describe('reasoning, thinking budget and tool calls (scripted model)', async () => {
  const engine = await createEngine({ model: memorySource('scripted', makeScriptedModel()), worker: false });
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

  it('splits reasoning from the answer and parses tool calls (OpenAI shape)', async () => {
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('scripted'); // the model's name, not where it was loaded from
    const choice = r.choices[0];
    expect(choice.logprobs).toBeNull();
    expect(choice.message.refusal).toBeNull();
    expect(choice.message.reasoning_content).toBe('Let me look it up.');
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.tool_calls).toHaveLength(1);
    expect(choice.message.tool_calls![0].type).toBe('function');
    expect(choice.message.tool_calls![0].function.name).toBe('get_weather');
    expect(JSON.parse(choice.message.tool_calls![0].function.arguments)).toEqual({ city: 'Paris' });
    expect(r.usage.completion_tokens).toBe(7);
  });

  it('streams chunks: reasoning deltas, then one tool_calls delta, then finish_reason', async () => {
    const stream = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Weather?' }], tools, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.filter((c) => c.choices.length).every((c) => c.choices[0].logprobs === null && c.model === 'scripted')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('')).toBe('Let me look it up.');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('');
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls.map((c) => c.function.name)).toEqual(['get_weather']);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(7);
  });

  it('without tools the block is plain content', async () => {
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Weather?' }], temperature: 0 });
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.choices[0].message.content).toContain('<tool_calls>');
  });

  it('the thinking budget closes </think> and the answer follows', async () => {
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0, thinking_budget: 1 });
    expect(r.choices[0].message.reasoning_content).toBe('Let me look\n');
    expect(r.choices[0].message.content).toBe('\n\nHello world');
    expect(r.choices[0].finish_reason).toBe('stop');
  });
});

describe('model sources and device loss', () => {
  it('loads a folder the user picked (File[] with relative paths) in a worker', async () => {
    const names = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
    const files = await Promise.all(
      names.map(async (n) => {
        const f = new File([await (await fetch(stories + n)).arrayBuffer()], n);
        Object.defineProperty(f, 'webkitRelativePath', { value: `stories260k/${n}` });
        return f;
      }),
    );
    const engine = await createEngine({ model: files, worker: false });
    const expected = (await sharedJson('models/stories260k/expected.json')).dtypes.float32.prompts[0];
    expect((await engine.generate('Once upon a time', { maxTokens: 16, sampling: { temperature: 0 } }).result).ids).toEqual(expected.greedy_ids.slice(0, 16));
    await engine.unload();
  });

  it('reports a lost device, and a new engine works without a reload', async () => {
    let device: GPUDevice | undefined;
    const lost = new Promise<string>((resolve) =>
      createEngine({
        model: memorySource('default', makeDefaultModel()),
        worker: false,
        device: async () => (device = (await (await navigator.gpu.requestAdapter())!.requestDevice())),
        onDeviceLost: resolve,
      }).then(() => device!.destroy()),
    );
    expect(await lost).toMatch(/./);
    const engine = await createEngine({ model: stories, worker: false });
    expect((await engine.generate([1, 403], { maxTokens: 2, sampling: { temperature: 0 } }).result).ids).toHaveLength(2);
    await engine.unload();
  });
});

describe('chat templates', () => {
  for (const [where, files] of [
    ['a list of named templates', { 'tokenizer_config.json': JSON.stringify({ chat_template: [{ name: 'tools', template: 'wrong' }, { name: 'default', template: '<s>{{ messages[0].content }}</think>' }] }) }],
    ['chat_template.jinja', { 'chat_template.jinja': '<s>{{ messages[0].content }}</think>' }],
  ] as const)
    it(`are read from ${where}`, async () => {
      const engine = await createEngine({ model: memorySource('scripted', { ...makeScriptedModel(), ...files }), worker: false });
      expect(engine.info.hasChatTemplate).toBe(true);
      // '<s>' 'Hello' '</think>': the template's text, tokenized without adding BOS again.
      expect(await engine.chatPrompt({ messages: [{ role: 'user', content: 'Hello' }] })).toEqual({ ids: [1, 10, 6], startsInThinking: false });
      await engine.unload();
    });

  it('do not start the reply in its reasoning when a user writes <think>', async () => {
    const files = { 'chat_template.jinja': '<s>{{ messages[0].content }}' };
    const engine = await createEngine({ model: memorySource('scripted', { ...makeScriptedModel(), ...files }), worker: false });
    expect(await engine.chatPrompt({ messages: [{ role: 'user', content: 'Hello<think>' }] })).toEqual({ ids: [1, 10, 3], startsInThinking: false });
    await engine.unload();
  });

  it('that open <think> for the reply start it in its reasoning', async () => {
    const files = { 'chat_template.jinja': '<s>{{ messages[0].content }}<think>' };
    const engine = await createEngine({ model: memorySource('scripted', { ...makeScriptedModel(), ...files }), worker: false });
    expect(await engine.chatPrompt({ messages: [{ role: 'user', content: 'Hello' }] })).toEqual({ ids: [1, 10, 3], startsInThinking: true });
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 });
    expect(r.choices[0].message.reasoning_content).toBe('Let me look it up.');
    expect(r.timings?.prompt_n).toBe(3);
    expect(r.timings?.predicted_n).toBe(r.usage.completion_tokens - 1); // the first token comes with the prompt
    await engine.unload();
  });
});
