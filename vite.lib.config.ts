import { defineConfig } from 'vite';

// The npm package's ES module: dist/lib/index.js, shaders inlined, the engine worker emitted as its own
// chunk with everything it needs (a worker cannot resolve bare imports). The `webgpu` package is only
// for Node and never bundled.
export default defineConfig({
  publicDir: false,
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: 'dist/lib',
    emptyOutDir: true,
    lib: { entry: 'src/index.ts', formats: ['es'], fileName: 'index' },
    rollupOptions: { external: ['webgpu', /^node:/, 'comlink', 'idb-keyval', '@huggingface/tokenizers', '@huggingface/jinja'] },
  },
});
