/**
 * backend 'openai' from a web page: the engine API against a `lightmoe serve` process (started on the
 * Node side) that allows the page's origin, and a clear error from one that does not.
 */
import { afterAll, expect, test } from 'vitest';
import { commands } from 'vitest/browser';
import { createEngine } from '../index';
import { sharedJson } from '../engine/fixtures';

declare module 'vitest/browser' {
  interface BrowserCommands {
    startServe(folder: string, origin: string | null): Promise<{ url: string }>;
    stopShards(): Promise<void>;
  }
}

afterAll(() => commands.stopShards());

test('generate and chat.completions from the page, through CORS', async () => {
  const e = (await sharedJson('models/stories260k/expected.json')).dtypes.float32.prompts[1];
  const { url } = await commands.startServe('models/stories260k', location.origin);
  const engine = await createEngine({ backend: 'openai', baseURL: url, model: 'stories260k' });
  let text = '';
  const gen = engine.generate(e.prompt, { maxTokens: 64, sampling: { temperature: 0 } });
  for await (const c of gen) text += c.text;
  expect(e.prompt + text).toBe(e.full_text);
  expect((await gen).ids).toEqual(e.greedy_ids);
  let chat = '';
  for await (const c of await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 12, temperature: 0, stream: true }))
    chat += c.choices[0]?.delta.content ?? '';
  expect(chat.length).toBeGreaterThan(0);
  await engine.unload();
});

test('a server that does not allow the page: the error names it', async () => {
  const { url } = await commands.startServe('models/stories260k', null);
  await expect(createEngine({ backend: 'openai', baseURL: url, model: 'stories260k' })).rejects.toThrow(new RegExp(`${url}/models: Failed to fetch`));
});
