import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { createEngine } from '../index';
import { nodeGpuDevice, nodeSource } from './index';

// The public API in Node: createEngine in the calling thread on Dawn, a model folder on disk.
test('createEngine in Node tells the stories260k story', async () => {
  const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');
  const dir = path.join(shared, 'models/stories260k');
  const expected = JSON.parse(await readFile(path.join(dir, 'expected.json'), 'utf8')).dtypes.float32.prompts[2];
  const engine = await createEngine({ model: nodeSource(dir), device: nodeGpuDevice, worker: false });
  let text = '';
  for await (const c of engine.generate(expected.prompt, { maxTokens: 64, sampling: { temperature: 0 } })) text += c.text;
  expect(expected.prompt + text).toBe(expected.full_text); // streamed text keeps the space the prompt is followed by
  await engine.unload();
});
