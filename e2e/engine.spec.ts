import { expect, readJson, sharedModel, test } from './fixtures';

// stories260k through createEngine in a module worker, driven through the demo page.
test('streams the greedy continuation of "Once upon a time" exactly as expected.json', async ({ page }) => {
  const expected = (await readJson('models/stories260k/expected.json')).dtypes.float32.prompts[0];
  await page.goto(`/?model=${encodeURIComponent(sharedModel('stories260k'))}`);
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
  await page.fill('#prompt', 'Once upon a time');
  await page.fill('#max', '64');
  await page.fill('#temperature', '0');
  // The output grows chunk by chunk while it streams.
  const seen = new Set<string>();
  const watch = setInterval(async () => seen.add((await page.getByTestId('output').textContent().catch(() => '')) ?? ''), 50);
  await page.click('#go');
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 120_000 });
  clearInterval(watch);
  expect(await page.getByTestId('output').textContent()).toBe(expected.full_text);
  expect((await page.getByTestId('ids').textContent())!.split(' ').map(Number)).toEqual(expected.greedy_ids);
  expect(seen.size).toBeGreaterThan(3);
});

test('the main thread keeps painting while the worker generates', async ({ page }) => {
  await page.goto(`/?model=${encodeURIComponent(sharedModel('tiny-hybrid-stories'))}`);
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
  await page.fill('#max', '48');
  await page.evaluate(() => {
    const w = window as unknown as { frames_: number[] };
    w.frames_ = [];
    const tick = (t: number) => {
      w.frames_.push(t);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.click('#go');
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 120_000 });
  const frames: number[] = await page.evaluate(() => (window as unknown as { frames_: number[] }).frames_);
  const gaps = frames.slice(1).map((t, i) => t - frames[i]);
  const span = frames[frames.length - 1] - frames[0];
  console.log(`${frames.length} frames over ${(span / 1000).toFixed(1)} s, longest gap ${Math.max(...gaps).toFixed(0)} ms`);
  expect(span).toBeGreaterThan(1000);
  expect(frames.length).toBeGreaterThan(span / 100); // ≥ 10 frames/s throughout
  expect(Math.max(...gaps)).toBeLessThan(500);
});

test('Stop aborts a generation within a token; the engine goes on', async ({ page }) => {
  await page.goto(`/?model=${encodeURIComponent(sharedModel('stories260k'))}`);
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
  await page.fill('#max', '400');
  await page.click('#go');
  await expect.poll(async () => (await page.getByTestId('output').textContent())!.length).toBeGreaterThan(40);
  await page.click('#stop');
  await expect(page.getByTestId('status')).toHaveText('Stopped.');
  const n = (await page.getByTestId('ids').textContent())!.split(' ').length;
  expect(n).toBeLessThan(400);
  await page.fill('#max', '5');
  await page.click('#go');
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 60_000 });
});
