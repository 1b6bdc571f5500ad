/**
 * The demo page as a new user meets it, against `npm run demo` (dev) and `vite build` + `vite preview`:
 * the default model chats, Stop stops, a reload loads from IndexedDB, a trained model from another
 * server tells its greedy story while the expert cache streams. Screenshots at a desktop and a phone
 * size land in test-results/screenshots/.
 */
import type { Page, TestInfo } from '@playwright/test';
import type { Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { PORTS, SHARED } from '../playwright.config';
import { expect, readJson, test } from './fixtures';
import { closeServer, staticServer } from './staticServer';

const SIZES = [
  [1280, 800],
  [390, 844],
] as const;

/** Viewport screenshots at both sizes, with `what` scrolled into view. */
async function shoot(page: Page, info: TestInfo, name: string, what?: string): Promise<void> {
  const dir = `test-results/screenshots`;
  await mkdir(dir, { recursive: true });
  for (const [width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    if (what) await page.locator(what).first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${dir}/${info.project.name}-${name}-${width}x${height}.png` });
  }
  await page.setViewportSize({ width: SIZES[0][0], height: SIZES[0][1] });
}

const status = (page: Page) => page.getByTestId('status');
const ready = (page: Page) => expect(status(page)).toContainText('Ready', { timeout: 120_000 });
const lastReply = (page: Page) => page.getByTestId('reply').last();

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

async function settings(page: Page, values: Record<string, string>): Promise<void> {
  for (const [id, v] of Object.entries(values)) await page.fill(`#${id}`, v);
}

/** Requests for weight files (model.safetensors), from the page and its worker. */
function weightRequests(page: Page): string[] {
  const urls: string[] = [];
  page.context().on('request', (r) => r.url().endsWith('.safetensors') && urls.push(r.url()));
  return urls;
}

test('the default model: the page says its weights are random, streams a reply with its reasoning apart, and greedy replies repeat', async ({ page }, info) => {
  await page.goto('/');
  await expect(page.locator('#model-note')).toContainText('random weights');
  await ready(page);
  await expect(status(page)).toContainText('4 layers (LLLS), 8 experts top-2');
  await shoot(page, info, 'first-load');
  await settings(page, { temperature: '0', max: '40', thinking: '16' });
  await send(page, 'Hello');
  await expect(page.getByRole('button', { name: 'Stop' })).toBeEnabled();
  await shoot(page, info, 'generating', '#transcript');
  await expect(status(page)).toHaveText('Generated.', { timeout: 120_000 });
  // The template opened <think>; the budget of 16 tokens closed it, and the answer followed.
  const reasoning = page.getByTestId('reasoning').last();
  await expect(reasoning).toBeVisible();
  await reasoning.locator('summary').click();
  await expect(reasoning).toHaveAttribute('open', '');
  await expect(page.getByTestId('assistant').last()).toContainText('40 tokens · length');
  await shoot(page, info, 'reasoning', '[data-testid=reasoning]');
  const first = { reasoning: await reasoning.locator('.text').textContent(), reply: await lastReply(page).textContent() };
  expect(first.reasoning!.length).toBeGreaterThan(0);
  expect(first.reply!.length).toBeGreaterThan(0);
  await expect(page.locator('#s-decode')).toHaveText(/^\d+\.\d tok\/s$/);
  await expect(page.locator('#s-tokens')).toContainText('40 out');
  // A new chat with the same message and greedy decoding says the same.
  await page.getByRole('button', { name: 'New chat' }).click();
  await expect(page.getByTestId('assistant')).toHaveCount(0);
  await send(page, 'Hello');
  await expect(status(page)).toHaveText('Generated.', { timeout: 120_000 });
  expect(await lastReply(page).textContent()).toBe(first.reply);
  expect(await page.getByTestId('reasoning').last().locator('.text').textContent()).toBe(first.reasoning);
});

test('Stop ends a reply within a token and the engine goes on; Load during a reply stops it and loads', { tag: '@page-logic' }, async ({ page }) => {
  await page.goto('/');
  await ready(page);
  await settings(page, { max: '4000', thinking: '4000' });
  await send(page, 'Tell me everything.');
  const turn = page.getByTestId('assistant').last();
  await expect.poll(async () => Number(await turn.getAttribute('data-tokens')), { timeout: 60_000 }).toBeGreaterThan(5);
  // The count when Stop is pressed, read in the same task as the click.
  const atStop = await page.evaluate(() => {
    const n = Number(document.querySelectorAll<HTMLElement>('[data-testid=assistant]')[0].dataset.tokens);
    document.getElementById('stop')!.click();
    return n;
  });
  await expect(status(page)).toHaveText('Stopped.', { timeout: 10_000 });
  const after = Number(await turn.getAttribute('data-tokens'));
  expect(after - atStop).toBeLessThanOrEqual(1);
  await expect(turn).toContainText(`${after} tokens · stopped`);
  await expect(page.locator('#s-decode')).toHaveText(/tok\/s$/); // the stats stay after a stop
  // The engine goes on: another reply, cut short by max tokens this time.
  await settings(page, { max: '6' });
  await send(page, 'Again.');
  await expect(status(page)).toHaveText('Generated.', { timeout: 60_000 });
  // Load while a reply streams: the reply stops, the model loads, the page goes on.
  await settings(page, { max: '4000' });
  await send(page, 'Once more.');
  await expect.poll(async () => Number(await page.getByTestId('assistant').last().getAttribute('data-tokens')), { timeout: 60_000 }).toBeGreaterThan(2);
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await ready(page);
  await expect(page.getByTestId('assistant').nth(2)).toContainText('stopped');
  await settings(page, { max: '4' });
  await send(page, 'Still there?');
  await expect(status(page)).toHaveText('Generated.', { timeout: 60_000 });
});

test('a reload loads the default model from IndexedDB: no weight bytes over the network @page-logic', async ({ page }) => {
  const weights = weightRequests(page);
  await page.goto('/');
  await ready(page);
  expect(weights.length).toBeGreaterThan(0);
  await expect(page.locator('#phase-fetch')).toContainText('MiB');
  const before = weights.length;
  await page.reload();
  await ready(page);
  expect(weights.length).toBe(before);
  await expect(page.locator('#phase-fetch')).toContainText('from IndexedDB');
  await page.locator('#stored-box summary').click();
  await expect(page.getByTestId('stored')).toContainText('/models/default/');
  await expect(page.locator('#quota')).toContainText('free');
});

test.describe('a trained model from another server', () => {
  let server: Server;
  test.beforeAll(async () => {
    server = await staticServer(`${SHARED}/models`, PORTS.models, { cors: true });
  });
  test.afterAll(() => closeServer(server));

  // @page-logic: the model comes from another server, not from the build's assets.
  test('tiny-hybrid-stories tells its greedy story; a 50% expert cache streams, and the heatmap shows its hits', { tag: '@page-logic' }, async ({ page }, info) => {
    const expected = (await readJson('models/tiny-hybrid-stories/expected.json')).dtypes.float32.prompts[0];
    await page.goto('/');
    await ready(page);
    await page.selectOption('#model-select', { label: 'Another folder URL…' });
    await page.fill('#model', `http://127.0.0.1:${PORTS.models}/tiny-hybrid-stories/`);
    await settings(page, { budget: '50', temperature: '0', max: String(expected.greedy_ids.length) });
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await expect(status(page)).toContainText('8 layers (LLLSLLLS)', { timeout: 120_000 });
    await expect(page.locator('#mode-note')).toContainText('no chat template');
    await send(page, expected.prompt);
    await expect(status(page)).toHaveText('Generated.', { timeout: 120_000 });
    expect(expected.prompt + (await lastReply(page).textContent())).toBe(expected.full_text);
    const stats = page.getByRole('region', { name: 'Stats' });
    await expect(stats.locator('#s-decode')).toHaveText(/^\d+\.\d tok\/s$/);
    await expect(stats.locator('#s-prefill')).toHaveText(/^\d+\.\d tok\/s$/);
    await expect(stats.locator('#s-experts')).toContainText('Cache of 4 experts a layer: hit rate');
    await expect(stats.locator('#s-placement')).toContainText('layers 0–7');
    // 8 layers × 8 experts; every layer used some, so every row has colour, and at most 4 a row are resident.
    const cells = stats.locator('#heatmap .cell');
    await expect(cells).toHaveCount(64);
    const rows = await cells.evaluateAll((cs) => Array.from({ length: 8 }, (_, l) => cs.slice(l * 8, l * 8 + 8).map((c) => ({ used: (c as HTMLElement).style.background !== '', resident: c.classList.contains('resident') }))));
    for (const row of rows) {
      expect(row.filter((c) => c.used).length).toBeGreaterThan(0);
      expect(row.filter((c) => c.resident).length).toBeLessThanOrEqual(4);
    }
    await shoot(page, info, 'stats', '#stats');
  });
});

test('2 GPU devices: the layers split over them, the Stats say where, and the greedy reply is the one of one device', { tag: '@page-logic' }, async ({ page }) => {
  await page.goto('/');
  await ready(page);
  await settings(page, { temperature: '0', max: '12', thinking: '4' });
  await send(page, 'Hi');
  await expect(status(page)).toHaveText('Generated.', { timeout: 120_000 });
  const one = await lastReply(page).textContent();
  await expect(page.locator('#s-placement li')).toHaveText(['layers 0–3device 0']);
  await settings(page, { devices: '2' });
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await ready(page);
  await expect(page.locator('#s-placement li')).toHaveText([/^layers 0–\d|^layer 0/, /device 1$/]);
  await page.getByRole('button', { name: 'New chat' }).click();
  await send(page, 'Hi');
  await expect(status(page)).toHaveText('Generated.', { timeout: 120_000 });
  expect(await lastReply(page).textContent()).toBe(one);
  // A malformed shard line is refused before anything loads.
  await page.fill('#shards', 'localhost:9000');
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await expect(status(page)).toHaveText('Remote shards: "localhost:9000" is not "ws://host:port token"');
  await expect(page.getByRole('button', { name: 'Send' })).toBeEnabled(); // the loaded engine stays
});

test('a missing model folder is reported on the page, which stays usable', { tag: '@page-logic' }, async ({ page }) => {
  await page.goto('/');
  await ready(page);
  await page.selectOption('#model-select', { label: 'Another folder URL…' });
  await page.fill('#model', '/models/nowhere/');
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await expect(status(page)).toContainText('config.json');
  await expect(status(page)).toHaveClass(/error/);
  await page.selectOption('#model-select', '/models/default/');
  await page.getByRole('button', { name: 'Load', exact: true }).click();
  await ready(page);
});

// The README's embedding example, served as a page of its own, works as written.
test("the README's embedding example runs", async ({ page }) => {
  const { readFile } = await import('node:fs/promises');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const example = await readFile(new URL('../demo/embed.ts', import.meta.url), 'utf8');
  expect(readme).toContain('```ts\n' + example + '```');
  expect(example.trim().split('\n').length).toBeLessThanOrEqual(12);
  const unloaded = page.waitForEvent('console', { predicate: (m) => m.text().startsWith('compile 1'), timeout: 60_000 });
  await page.goto('/embed.html');
  await unloaded;
  await expect.poll(async () => (await page.locator('body').innerText()).length, { timeout: 60_000 }).toBeGreaterThan(0);
});
