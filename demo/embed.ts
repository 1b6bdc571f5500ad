import { createEngine } from 'lightmoe';

const engine = await createEngine({ model: '/models/default/', onProgress: (p) => console.log(p.phase, p.loaded, p.total) });
const story = document.body.appendChild(document.createElement('p'));
story.textContent = 'Once upon a time';
for await (const chunk of engine.generate(story.textContent, { maxTokens: 64, sampling: { temperature: 0 } })) story.append(chunk.text);

// The OpenAI Chat Completions API, streamed: the same objects and chunks as OpenAI's.
const stream = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 24, thinking_budget: 8, stream: true });
const reply = document.body.appendChild(document.createElement('p'));
for await (const chunk of stream) reply.append(chunk.choices[0]?.delta.content ?? '');
await engine.unload();
