import { defineConfig } from 'vitest/config';
import base from './vitest.config';

// `npm run bench:node`: the kernel bench through Dawn in Node, on whatever adapter the machine has.
export default defineConfig({
  define: base.define,
  test: {
    include: ['bench/**/*.bench.node.ts'],
    environment: 'node',
    testTimeout: 1_800_000,
  },
});
