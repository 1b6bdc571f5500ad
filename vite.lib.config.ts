import { defineConfig } from 'vite';

// The npm package's ES module: dist/lib/index.js, shaders inlined, the engine worker emitted as its own
// chunk with everything it needs (a worker cannot resolve bare imports). The `webgpu` package is only
// for Node and never bundled. `base: './'` makes the worker's URL relative to the module
// (`new URL("assets/worker-….js", import.meta.url)`), which a consumer's dev server serves and whose
// bundler re-emits; an absolute one would point at the consumer's site root.
export default defineConfig({
  base: './',
  publicDir: false,
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: 'dist/lib',
    emptyOutDir: true,
    lib: { entry: 'src/index.ts', formats: ['es'] },
    rollupOptions: {
      external: ['webgpu', /^node:/, 'comlink', 'idb-keyval', '@huggingface/tokenizers', '@huggingface/jinja'],
      // One output module per source module: a consumer's bundler then sees the real graph and keeps
      // the engine (reached only by `worker: false`'s dynamic import) out of the page's first chunk.
      output: { preserveModules: true, preserveModulesRoot: 'src', entryFileNames: '[name].js' },
    },
  },
});
