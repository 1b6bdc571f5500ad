/** Writes the embedded default model (src/model/defaultModel.ts) into a folder: `node dist/node/make-default-model.js DIR`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeDefaultModel } from '../src/model/defaultModel';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: make-default-model DIR');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
for (const [name, data] of Object.entries(makeDefaultModel())) writeFileSync(path.join(dir, name), data);
console.log(`lightmoe: default model written to ${dir}`);
