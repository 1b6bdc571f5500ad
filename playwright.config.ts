import { defineConfig } from '@playwright/test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared: trained models served to the dev server's pages by /@fs/ (see vite.config.ts). */
export const SHARED = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../shared');

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];

/**
 * Ports of the tests' own servers, away from the README's `npm run demo` (5173) and `vite preview`
 * (4173): a server the tests did not start is never reused.
 */
export const PORTS = { dev: 5391, preview: 5392, consumerDev: 5393, consumerPreview: 5394, insecure: 5395, models: 5396 };

// The demo page and workers in headless Chromium with real WebGPU (SwiftShader where there is no GPU),
// against the dev server and against the production build; and the packed package in a user's own apps.
export default defineConfig({
  testDir: 'e2e',
  timeout: 180_000,
  workers: 1,
  use: { headless: true, launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS } },
  projects: [
    { name: 'dev', use: { baseURL: `http://localhost:${PORTS.dev}` }, testIgnore: ['consumer.spec.ts', 'unsupported.spec.ts'] },
    // The production build serves only its own files: the demo on its embedded model, and (from
    // dist/demo, by a server of the test's own) browsers that cannot run it.
    // Tests tagged @page-logic check logic the build does not change (the page's own wiring, the store
    // behind a reload): dev only.
    { name: 'preview', use: { baseURL: `http://localhost:${PORTS.preview}` }, testMatch: ['demo.spec.ts', 'unsupported.spec.ts'], grepInvert: /@page-logic/ },
    // `npm pack` installed into a scratch Vite app and a scratch Node project (it starts their servers itself).
    { name: 'consumer', testMatch: 'consumer.spec.ts' },
  ],
  webServer: [
    { command: `npx vite --port ${PORTS.dev} --strictPort`, env: { LIGHTMOE_FS_ALLOW: SHARED }, url: `http://localhost:${PORTS.dev}`, reuseExistingServer: false },
    { command: `npx vite build && npx vite preview --port ${PORTS.preview} --strictPort`, url: `http://localhost:${PORTS.preview}`, reuseExistingServer: false, timeout: 120_000 },
  ],
});
