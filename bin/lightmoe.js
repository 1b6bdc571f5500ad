#!/usr/bin/env node
// The CLI is bundled by vite (vite.node.config.ts) so that its WGSL `?raw` imports resolve.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/node/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(`lightmoe: ${fileURLToPath(cli)} is missing: run \`npm run build\` first`);
  process.exit(1);
}
const { main } = await import(cli.href);
await main(process.argv.slice(2));
