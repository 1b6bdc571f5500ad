import { createEngine } from 'lightmoe';

const engine = await createEngine({ model: '/models/default/', onProgress: (p) => console.log(p.phase, p.loaded, p.total) });
const stream = await engine.chat.completions.create({
  messages: [{ role: 'user', content: 'Tell me a story.' }],
  max_tokens: 24,
  stream: true,
});
for await (const chunk of stream) document.body.append(chunk.choices[0]?.delta.content ?? '');
await engine.unload();
