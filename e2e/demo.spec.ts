import { expect, test } from './fixtures';

// The demo page loads the embedded default model in a worker and generates with it.
test('demo generates from the default model', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
  await expect(page.getByTestId('status')).toContainText('4 layers (LLLS), 8 experts top-2');
  await page.fill('#max', '12');
  await page.click('#go');
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 120_000 });
  const ids = (await page.getByTestId('ids').textContent())!.trim().split(' ').map(Number);
  expect(ids.length).toBeGreaterThan(0);
  expect(ids.length).toBeLessThanOrEqual(12);
  expect(ids.every((i) => Number.isInteger(i) && i >= 0 && i < 259)).toBe(true);
  // Greedy decoding is deterministic: a second run tells the same thing.
  await page.click('#go');
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 120_000 });
  expect((await page.getByTestId('ids').textContent())!.trim().split(' ').map(Number)).toEqual(ids);
});

test('a missing model folder is reported on the page, which stays usable', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
  await page.fill('#model', '/models/nowhere/');
  await page.click('#load');
  await expect(page.getByTestId('status')).toContainText('config.json');
  await page.fill('#model', '/models/default/');
  await page.click('#load');
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
});

// The README's embedding example, served as a page of its own, works as written.
test("the README's embedding example runs", async ({ page }) => {
  const { readFile } = await import('node:fs/promises');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const example = await readFile(new URL('../demo/embed.ts', import.meta.url), 'utf8');
  expect(readme).toContain('```ts\n' + example + '```');
  expect(example.trim().split("\n").length).toBeLessThanOrEqual(12);
  const unloaded = page.waitForEvent('console', { predicate: (m) => m.text().startsWith('compile 1'), timeout: 60_000 });
  await page.goto('/embed.html');
  await unloaded;
  await expect.poll(async () => (await page.locator('body').innerText()).length, { timeout: 60_000 }).toBeGreaterThan(0);
});
