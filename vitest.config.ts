import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS, SHARED as shared } from './playwright.config';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Headless Chromium with WebGPU (SwiftShader where there is no GPU): the kernel, engine and bench tests. */
export const BROWSER = {
  enabled: true,
  headless: true,
  instances: [{ browser: 'chromium' as const }],
  provider: playwright({ launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS } }),
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
          env: { VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['src/**/*.browser.test.ts', 'src/**/*.gpu.test.ts'],
          testTimeout: 300_000,
          browser: BROWSER,
        },
      },
    ],
  },
});
