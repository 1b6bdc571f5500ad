import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { CHROMIUM_ARGS, SHARED as shared } from './playwright.config';
import { startServeProcess, startShardProcess, type ServerProcess } from './src/node/testing';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Browser tests' servers: `lightmoe shard` and `lightmoe serve` processes started on the Node side for
 * a page to use (src/shard/sharded.browser.test.ts, src/client/openaiBackend.browser.test.ts). Only
 * ../shared folders, only for a localhost origin.
 */
const shards: ServerProcess[] = [];
const folderOk = (folder: string) => /^(golden|models)\/[\w.-]+$/.test(folder);
const originOk = (origin: string) => /^http:\/\/(localhost|127\.0\.0\.1):\d+$/.test(origin);
const SHARD_TOKEN = 'browser-shard-test-token';
const commands = {
  async startShard(_ctx: unknown, folder: string, layers: string, origin: string) {
    if (!folderOk(folder) || !/^\d+-\d+$/.test(layers) || !originOk(origin)) throw new Error('startShard: bad arguments');
    const p = await startShardProcess(path.join(shared, folder), layers, SHARD_TOKEN, ['--allow-origin', origin]);
    shards.push(p);
    return { url: p.url, token: SHARD_TOKEN };
  },
  async startServe(_ctx: unknown, folder: string, origin: string | null) {
    if (!folderOk(folder) || (origin !== null && !originOk(origin))) throw new Error('startServe: bad arguments');
    const p = await startServeProcess(path.join(shared, folder), origin ? ['--allow-origin', origin] : []);
    shards.push(p);
    return { url: p.url };
  },
  async stopShards() {
    await Promise.all(shards.splice(0).map((p) => p.stop()));
  },
};

/** Headless Chromium with WebGPU (SwiftShader where there is no GPU): the kernel, engine and bench tests. */
export const BROWSER = {
  enabled: true,
  headless: true,
  instances: [{ browser: 'chromium' as const }],
  provider: playwright({ launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS } }),
  commands,
};

export default defineConfig({
  define: { __SHARED_DIR__: JSON.stringify(shared) },
  server: { fs: { allow: [root, shared] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          // *.gpu.test.ts (the kernels) run here through Dawn and in Chromium.
          include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: ['src/**/*.browser.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000, // setups that load and run whole models, slower when both lanes share the cores
          env: { VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['src/**/*.browser.test.ts', 'src/**/*.gpu.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000, // setups that load and run whole models, slower when both lanes share the cores
          browser: BROWSER,
        },
      },
    ],
  },
});
