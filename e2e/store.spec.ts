import type { BrowserContext } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { expect, sharedModel, test } from './fixtures';

const MODEL = sharedModel('tiny-hybrid-stories');
const FILE_BYTES = 28_123_888;

/**
 * Bytes of model.safetensors that came over the network (from the page and its worker), counted from
 * finished requests only: a range cancelled mid-body is not stored, and its body may never settle.
 */
function countWeightBytes(context: BrowserContext): { total(): Promise<number> } {
  const sizes: Promise<number>[] = [];
  context.on('requestfinished', (r) => {
    if (r.url().endsWith('/model.safetensors')) sizes.push(r.sizes().then((s) => s.responseBodySize, () => 0));
  });
  return { total: async () => (await Promise.all(sizes)).reduce((a, b) => a + b, 0) };
}

async function loadInDemo(page: import('@playwright/test').Page): Promise<void> {
  await page.goto(`/?model=${encodeURIComponent(MODEL)}`);
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 120_000 });
}

test('a reloaded page loads the model from IndexedDB: no weight bytes over the network', async ({ page, context }) => {
  const net = countWeightBytes(context);
  await loadInDemo(page);
  const first = await net.total();
  expect(first).toBeGreaterThanOrEqual(FILE_BYTES * 0.95);
  await page.reload();
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 120_000 });
  const second = (await net.total()) - first;
  console.log(`first load ${first} weight bytes over the network, second ${second}`);
  expect(second).toBe(0);
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 120_000 });
  // The page lists what is stored, with its size, and deletes it.
  await page.click('#stored-box summary');
  const entry = page.getByTestId('stored').locator('li', { hasText: 'tiny-hybrid-stories' });
  await expect(entry).toContainText('26.8 of 26.8 MiB');
  await entry.getByRole('button', { name: 'Delete' }).click();
  await expect(entry).toHaveCount(0);
});

test('a stored model loads with its server gone (offline), and generates', async ({ page, context }) => {
  await loadInDemo(page);
  // Every request for the model folder now fails as it would offline; the page itself stays served.
  const asked: string[] = [];
  await context.route(`**${MODEL}**`, (route) => {
    asked.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  await page.reload();
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 120_000 });
  expect(asked).toEqual([]); // not even config.json or the safetensors header
  await page.fill('#max', '8');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 120_000 });
  await expect(page.getByTestId('assistant')).toContainText('8 tokens · length');
});

test('an aborted download resumes without fetching again what is stored', async ({ page, context }) => {
  const net = countWeightBytes(context);
  // A slow network, so that Cancel lands in the middle of the download.
  await context.route('**/model.safetensors', async (route) => {
    await new Promise((r) => setTimeout(r, 400));
    await route.continue().catch(() => {}); // the request may have been cancelled meanwhile
  });
  await page.goto(`/?model=${encodeURIComponent(MODEL)}`);
  await expect(page.locator('#phase-store')).toContainText(/^Store([5-9]|\d\d)\.\d MiB \//, { timeout: 60_000 });
  await page.getByRole('button', { name: 'Cancel' }).click();
  // Said at once, and it stays said: no progress reported after the cancel overwrites it.
  await expect(page.getByTestId('status')).toContainText('Load cancelled', { timeout: 5_000 });
  await page.waitForTimeout(1500);
  await expect(page.getByTestId('status')).toContainText('Load cancelled. What was downloaded stays stored');
  await context.unroute('**/model.safetensors');
  const before = await net.total();
  expect(before).toBeLessThan(FILE_BYTES * 0.9);
  const load = page.getByRole('button', { name: 'Load', exact: true });
  await expect(load).toBeEnabled({ timeout: 5_000 });
  await load.click();
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 120_000 });
  const resumed = (await net.total()) - before;
  console.log(`aborted after ${before} bytes; the resumed download fetched ${resumed} more`);
  expect(before + resumed).toBeLessThan(FILE_BYTES * 1.1); // nothing fetched twice, beyond records in flight at the abort
  expect(resumed).toBeLessThan(FILE_BYTES - before * 0.5);
});

test('a full storage quota gives a clear error and leaves the store consistent', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
  const src = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  const result = await page.evaluate(
    async ({ src, model }) => {
      const lib = await import(/* @vite-ignore */ `/@fs${src}`);
      Object.defineProperty(navigator.storage, 'estimate', { value: async () => ({ quota: 4 << 20, usage: 1 << 20 }) });
      let message = '';
      try {
        await lib.createEngine({ model, worker: false });
      } catch (e) {
        message = `${(e as Error).name}: ${(e as Error).message}`;
      }
      const stored = (await lib.listModels()).filter((m: { url: string }) => m.url.includes('tiny-hybrid'));
      return { message, stored };
    },
    { src, model: new URL(MODEL, page.url()).href },
  );
  expect(result.message).toMatch(/StorageFullError: not enough storage: model ".*tiny-hybrid-stories.*" needs 26\.8 MiB, but only 3\.0 MiB are free/);
  expect(result.stored.every((m: { complete: boolean; recordsStored: number }) => !m.complete && m.recordsStored === 0)).toBe(true);
});
