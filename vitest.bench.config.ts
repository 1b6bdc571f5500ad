import { defineConfig, mergeConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import base, { CHROMIUM_ARGS } from './vitest.config';

// `npm run bench`: measurements in headless Chromium with WebGPU, printed and written to bench-results.json.
export default mergeConfig(
  { define: base.define, server: base.server },
  defineConfig({
    test: {
      include: ['bench/**/*.bench.browser.ts'],
      testTimeout: 1_800_000,
      browser: {
        enabled: true,
        headless: true,
        instances: [{ browser: 'chromium' }],
        provider: playwright({ launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS } }),
      },
    },
  }),
);
