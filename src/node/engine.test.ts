import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { createEngine } from './index';

// The public API in Node (lightmoe/node): a folder path, the calling thread, Dawn.
test('createEngine in Node tells the stories260k story from a folder path', async () => {
  const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');
  const dir = path.join(shared, 'models/stories260k');
  const expected = JSON.parse(await readFile(path.join(dir, 'expected.json'), 'utf8')).dtypes.float32.prompts[2];
  const engine = await createEngine({ model: dir });
  let text = '';
  for await (const c of engine.generate(expected.prompt, { maxTokens: 64, sampling: { temperature: 0 } })) text += c.text;
  expect(expected.prompt + text).toBe(expected.full_text); // streamed text keeps the space the prompt is followed by
  const chat = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 8, temperature: 0 });
  expect(chat.choices[0].message.content!.length).toBeGreaterThan(0);
  await engine.unload();
});
