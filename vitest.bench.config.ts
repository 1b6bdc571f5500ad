import { defineConfig, mergeConfig } from 'vitest/config';
import base, { BROWSER } from './vitest.config';

// `npm run bench`: measurements in headless Chromium with WebGPU, printed and written to bench-results.json.
export default mergeConfig(
  { define: base.define, server: base.server },
  defineConfig({
    // Pre-bundled up front: discovered mid-run, vite would reload the page under the test.
    optimizeDeps: { include: ['@huggingface/transformers', 'onnxruntime-web/webgpu', '@wllama/wllama'] },
    test: {
      include: ['bench/**/*.bench.browser.ts'],
      testTimeout: 1_800_000,
      browser: BROWSER,
    },
  }),
);
