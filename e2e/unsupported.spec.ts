/**
 * Browsers that cannot run the engine are told so before any download: a page that is not a secure
 * context, and a browser whose WebGPU offers no adapter. The production build of the demo is served by
 * a plain static server of this test's own (Vite's servers refuse unknown host names).
 */
import { chromium, type Browser } from '@playwright/test';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS, PORTS } from '../playwright.config';
import { expect, test } from './fixtures';
import { closeServer, staticServer } from './staticServer';

const DIST = fileURLToPath(new URL('../dist/demo', import.meta.url));
let server: Server;

test.beforeAll(async () => {
  server = await staticServer(DIST, PORTS.insecure);
});
test.afterAll(() => closeServer(server));

/** Opens the demo in its own browser and returns the status it settles on and the model files it asked for. */
async function demoIn(browser: Browser, url: string): Promise<{ status: string; alert: string; modelRequests: string[] }> {
  const page = await browser.newPage();
  const modelRequests: string[] = [];
  // The page's list of models (/models/index.json) is not a model file.
  page.context().on('request', (r) => r.url().includes('/models/') && !r.url().endsWith('/models/index.json') && modelRequests.push(r.url()));
  await page.goto(url);
  // Said as what it is, a browser problem, not a model problem.
  await expect(page.getByTestId('status')).toContainText('This browser cannot run lightmoe here', { timeout: 30_000 });
  const status = (await page.getByTestId('status').textContent())!;
  const alert = (await page.getByRole('alert').textContent())!;
  await browser.close();
  return { status, alert, modelRequests };
}

test('a page that is not a secure context is told to use https or localhost, before any download', async () => {
  // lightmoe.test is 127.0.0.1, but only localhost and 127.0.0.1 themselves count as secure.
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP lightmoe.test 127.0.0.1'] });
  const { status, alert, modelRequests } = await demoIn(browser, `http://lightmoe.test:${PORTS.insecure}/`);
  expect(status).toContain('WebGPU needs a secure context');
  expect(alert).toContain('WebGPU needs a secure context');
  expect(status).toContain(`http://lightmoe.test:${PORTS.insecure}`);
  expect(status).toContain('https://');
  expect(modelRequests).toEqual([]);
});

test('a browser whose WebGPU gives no adapter is told where WebGPU is, before any download', async () => {
  // Without --enable-unsafe-webgpu, Chromium on Linux has navigator.gpu but no adapter.
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu') });
  const { status, alert, modelRequests } = await demoIn(browser, `http://127.0.0.1:${PORTS.insecure}/`);
  expect(status).toContain('No WebGPU adapter was found');
  expect(alert).toContain('--enable-unsafe-webgpu');
  expect(status).toContain('--enable-unsafe-webgpu');
  expect(modelRequests).toEqual([]);
});
