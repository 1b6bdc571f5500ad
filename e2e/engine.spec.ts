import { expect, readJson, sharedModel, test } from './fixtures';

// stories260k through createEngine in a module worker, driven through the demo page.
test('streams the greedy continuation of "Once upon a time" exactly as expected.json', async ({ page }) => {
  const expected = (await readJson('models/stories260k/expected.json')).dtypes.float32.prompts[0];
  await page.goto(`/?model=${encodeURIComponent(sharedModel('stories260k'))}`);
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
  await page.getByRole('textbox', { name: 'Message' }).fill(expected.prompt);
  await page.fill('#max', String(expected.greedy_ids.length));
  await page.fill('#temperature', '0');
  // The reply grows chunk by chunk while it streams.
  const seen = new Set<string>();
  const watch = setInterval(async () => seen.add((await page.getByTestId('reply').textContent().catch(() => '')) ?? ''), 50);
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 120_000 });
  clearInterval(watch);
  expect(expected.prompt + (await page.getByTestId('reply').textContent())).toBe(expected.full_text);
  await expect(page.getByTestId('assistant')).toContainText(`${expected.greedy_ids.length} tokens · length`);
  expect(seen.size).toBeGreaterThan(3);
});

test('the main thread keeps painting while the worker generates', async ({ page }) => {
  await page.goto(`/?model=${encodeURIComponent(sharedModel('tiny-hybrid-stories'))}`);
  await expect(page.getByTestId('status')).toContainText('Ready', { timeout: 60_000 });
  // Enough tokens that the reply spans well over a second (48 took under one once MoE decode got faster).
  await page.fill('#max', '200');
  await page.evaluate(() => {
    const w = window as unknown as { frames_: number[] };
    w.frames_ = [];
    const tick = (t: number) => {
      w.frames_.push(t);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('status')).toHaveText('Generated.', { timeout: 120_000 });
  const frames: number[] = await page.evaluate(() => (window as unknown as { frames_: number[] }).frames_);
  const gaps = frames.slice(1).map((t, i) => t - frames[i]);
  const span = frames[frames.length - 1] - frames[0];
  console.log(`${frames.length} frames over ${(span / 1000).toFixed(1)} s, longest gap ${Math.max(...gaps).toFixed(0)} ms`);
  expect(span).toBeGreaterThan(1000);
  expect(frames.length).toBeGreaterThan(span / 100); // ≥ 10 frames/s throughout
  expect(Math.max(...gaps)).toBeLessThan(500);
});
