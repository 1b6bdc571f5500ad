import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { modelIndex } from './scripts/modelIndex';

const root = fileURLToPath(new URL('.', import.meta.url));

// The demo page: `npm run demo` serves demo/ with the embedded default model from public/.
export default defineConfig({
  root: 'demo',
  appType: 'mpa', // a missing model file must be a 404, not the demo page
  publicDir: '../public',
  plugins: [modelIndex(`${root}public`)],
  resolve: { alias: { lightmoe: `${root}src/index.ts` } }, // the demo imports the package as an app would
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: '../dist/demo',
    emptyOutDir: true,
    rollupOptions: { input: { main: `${root}demo/index.html`, embed: `${root}demo/embed.html` } },
  },
  // LIGHTMOE_FS_ALLOW: extra folders the dev server may serve by /@fs/ (the e2e tests' model fixtures).
  server: { fs: { allow: [root, ...(process.env.LIGHTMOE_FS_ALLOW?.split(':').filter(Boolean) ?? [])] } },
});
