import { defineConfig } from '@playwright/test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared: trained models served to the dev server's pages by /@fs/ (see vite.config.ts). */
export const SHARED = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../shared');

const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];

// The demo page and workers in headless Chromium with real WebGPU (SwiftShader where there is no GPU),
// against the dev server and against the production build.
export default defineConfig({
  testDir: 'e2e',
  timeout: 180_000,
  workers: 1,
  use: { headless: true, launchOptions: { executablePath: '/usr/bin/chromium', args: ARGS } },
  projects: [
    { name: 'dev', use: { baseURL: 'http://localhost:5173' } },
    // The production build serves only its own files: the demo on its embedded model.
    { name: 'preview', use: { baseURL: 'http://localhost:4173' }, testMatch: 'demo.spec.ts' },
  ],
  webServer: [
    { command: 'npx vite --port 5173 --strictPort', env: { LIGHTMOE_FS_ALLOW: SHARED }, url: 'http://localhost:5173', reuseExistingServer: !process.env.CI },
    { command: 'npx vite build && npx vite preview --port 4173 --strictPort', url: 'http://localhost:4173', reuseExistingServer: !process.env.CI, timeout: 120_000 },
  ],
});
