import { defineConfig } from 'vite';

// Builds the Node host (CLI, default-model generator) so that `?raw` WGSL imports resolve outside vite.
export default defineConfig({
  publicDir: false,
  build: {
    ssr: true,
    target: 'node20',
    outDir: 'dist/node',
    emptyOutDir: true,
    rollupOptions: {
      input: { cli: 'src/node/cli.ts', index: 'src/node/index.ts', 'make-default-model': 'scripts/make-default-model.ts' },
      output: { format: 'es', entryFileNames: '[name].js' },
    },
  },
  ssr: { external: ['webgpu', 'lightmoe'] },
});
