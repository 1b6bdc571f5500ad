/**
 * `lightmoe serve` as a user meets it: through the official `openai` client and raw HTTP, and the
 * engine API with backend 'openai' against it — the same stories as the local engine tells.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createEngine, type Engine, type OpenAIEngine } from './index';
import { startServeProcess, type ServerProcess } from './testing';
import { OpenAIError } from '../client/openaiBackend';

const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');
const stories = path.join(shared, 'models/stories260k');
const KEY = 'sk-test-key';

let server: ServerProcess;
let keyed: ServerProcess;
let local: Engine;
let client: OpenAI;
let expected: { prompt: string; full_text: string; greedy_ids: number[]; input_ids: number[] }[];

beforeAll(async () => {
  [server, keyed] = await Promise.all([startServeProcess(stories), startServeProcess(stories, ['--api-key', KEY])]);
  local = await createEngine({ model: stories });
  client = new OpenAI({ baseURL: server.url, apiKey: 'unused' });
  expected = JSON.parse(await readFile(path.join(stories, 'expected.json'), 'utf8')).dtypes.float32.prompts;
});
afterAll(async () => {
  await Promise.all([server?.stop(), keyed?.stop(), local?.unload()]);
});

const chatRequest = { model: 'stories260k', messages: [{ role: 'user' as const, content: 'Once upon a time' }], max_tokens: 24, temperature: 0 };

describe('lightmoe serve through the openai client', () => {
  test('models', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['stories260k']);
  });

  test('chat completions, whole and streamed, say what the local engine says', async () => {
    const want = await local.chat.completions.create({ ...chatRequest });
    const got = await client.chat.completions.create({ ...chatRequest });
    expect(got.object).toBe('chat.completion');
    expect(got.choices[0].message.content).toBe(want.choices[0].message.content);
    expect(got.choices[0].finish_reason).toBe(want.choices[0].finish_reason);
    expect(got.usage).toEqual(want.usage);
    const stream = await client.chat.completions.create({ ...chatRequest, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(want.choices[0].message.content);
    expect(chunks.at(-1)!.usage).toEqual(want.usage);
  });

  test('completions tell the expected stories, whole and streamed', async () => {
    for (const e of expected.slice(0, 2)) {
      const r = await client.completions.create({ model: 'stories260k', prompt: e.prompt, max_tokens: 64, temperature: 0 });
      expect(e.prompt + r.choices[0].text).toBe(e.full_text);
      const s = await client.completions.create({ model: 'stories260k', prompt: e.prompt, max_tokens: 64, temperature: 0, stream: true });
      let text = '';
      for await (const c of s) text += c.choices[0]?.text ?? '';
      expect(e.prompt + text).toBe(e.full_text);
    }
  });

  test('the event stream: data lines only, no event names, [DONE] last', async () => {
    const r = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...chatRequest, stream: true }) });
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    const events = (await r.text()).split('\n\n').filter(Boolean);
    expect(events.every((e) => e.startsWith('data: ') && !e.includes('\n'))).toBe(true);
    expect(events.at(-1)).toBe('data: [DONE]');
  });

  test('errors are OpenAI error objects with their status', async () => {
    await expect(client.chat.completions.create({ ...chatRequest, temperature: 7 })).rejects.toMatchObject({ status: 400, error: { type: 'invalid_request_error', param: 'temperature' } });
    await expect(client.chat.completions.create({ ...chatRequest, messages: [] })).rejects.toMatchObject({ status: 400, error: { param: 'messages' } });
    await expect(client.chat.completions.create({ ...chatRequest, model: 'gpt-9' })).rejects.toMatchObject({ status: 404, error: { code: 'model_not_found' } });
    await expect(client.completions.create({ model: 'stories260k', prompt: [1, 99999], max_tokens: 2 })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/token id 99999 at position 1 is outside the vocabulary/) });
    // Streamed, the refusal still comes as an error status, not as a 200 with an error event.
    await expect(client.completions.create({ model: 'stories260k', prompt: [1, 99999], max_tokens: 2, stream: true })).rejects.toMatchObject({ status: 400 });
    await expect(client.chat.completions.create({ ...chatRequest, logit_bias: { x: 1 } as never })).rejects.toMatchObject({ status: 400, error: { param: 'logit_bias' } });
    const raw = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: '{"messages": [' });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ error: { message: 'the request body is not valid JSON', type: 'invalid_request_error' } });
    expect((await fetch(`${server.url}/nothing`)).status).toBe(404);
  });

  test('with --api-key: 401 without it, served with it', async () => {
    const without = new OpenAI({ baseURL: keyed.url, apiKey: 'wrong' });
    await expect(without.models.list()).rejects.toMatchObject({ status: 401, error: { type: 'authentication_error' } });
    const withKey = new OpenAI({ baseURL: keyed.url, apiKey: KEY });
    expect((await withKey.chat.completions.create(chatRequest)).choices[0].message.content).toBeTruthy();
  });

  test('concurrent requests queue without corrupting each other', async () => {
    const prompts = expected.slice(0, 3);
    const got = await Promise.all(prompts.map((e) => client.completions.create({ model: 'stories260k', prompt: e.prompt, max_tokens: 64, temperature: 0 })));
    got.forEach((r, i) => expect(prompts[i].prompt + r.choices[0].text).toBe(prompts[i].full_text));
  });

  test('a client gone mid-stream: its generation stops, the server serves the next', async () => {
    const ctl = new AbortController();
    const s = await client.completions.create({ model: 'stories260k', prompt: 'Once upon a time', max_tokens: 200, temperature: 0, stream: true, ignore_eos: true } as never, { signal: ctl.signal });
    let n = 0;
    // The openai client ends an aborted stream quietly.
    for await (const _ of s as unknown as AsyncIterable<unknown>) if (++n === 3) ctl.abort();
    expect(n).toBeLessThan(10);
    const r = await client.completions.create({ model: 'stories260k', prompt: expected[0].prompt, max_tokens: 64, temperature: 0 });
    expect(expected[0].prompt + r.choices[0].text).toBe(expected[0].full_text);
  });
});

describe("backend 'openai': the engine API against lightmoe serve", () => {
  let remote: OpenAIEngine;
  beforeAll(async () => {
    remote = await createEngine({ backend: 'openai', baseURL: server.url, model: 'stories260k' });
  });

  test('generate streams the story of the local engine, ids included', async () => {
    const e = expected[2];
    let streamed = '';
    const gen = remote.generate(e.prompt, { maxTokens: 64, sampling: { temperature: 0 } });
    for await (const c of gen) streamed += c.text;
    const r = await gen;
    expect(e.prompt + streamed).toBe(e.full_text);
    expect(r.text).toBe(streamed);
    expect(r.ids).toEqual(e.greedy_ids);
    expect(r.usage.completionTokens).toBe(64);
    const fromIds = await remote.generate(e.input_ids, { maxTokens: 16, sampling: { temperature: 0 } });
    expect(fromIds.ids).toEqual(e.greedy_ids.slice(0, 16));
  });

  test('chat.completions as the local engine gives them', async () => {
    const want = await local.chat.completions.create(chatRequest);
    const got = await remote.chat.completions.create(chatRequest);
    expect(got.choices[0].message).toEqual(want.choices[0].message);
    let text = '';
    for await (const c of await remote.chat.completions.create({ ...chatRequest, stream: true })) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(want.choices[0].message.content);
  });

  test('abort, and what the API cannot do', async () => {
    const ctl = new AbortController();
    const gen = remote.generate('Once upon a time', { maxTokens: 200, sampling: { temperature: 0 }, ignoreEos: true, signal: ctl.signal });
    let n = 0;
    await expect(
      (async () => {
        for await (const _ of gen) if (++n === 2) ctl.abort();
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    await expect(remote.logits([1, 2])).rejects.toThrow(/gives no logits/);
    await expect(createEngine({ backend: 'openai', baseURL: server.url, model: 'gpt-9' })).rejects.toThrow(/does not serve model 'gpt-9'; it serves 'stories260k'/);
    const denied = createEngine({ backend: 'openai', baseURL: keyed.url, model: 'stories260k', apiKey: 'wrong' });
    await expect(denied).rejects.toBeInstanceOf(OpenAIError);
    await expect(denied).rejects.toMatchObject({ status: 401 });
  });
});
