import { test as base, expect, type Page } from '@playwright/test';
import { SHARED } from '../playwright.config';

/** URL of a ../shared model folder on the dev server. */
export const sharedModel = (name: string) => `/@fs${SHARED}/models/${name}/`;

export async function readJson<T = any>(path: string): Promise<T> {
  const { readFile } = await import('node:fs/promises');
  return JSON.parse(await readFile(`${SHARED}/${path}`, 'utf8'));
}

/** Fails a test on any page error, console error or WebGPU warning (validation errors are warnings). */
export const test = base.extend<{ page: Page }>({
  page: async ({ page }, use) => {
    const problems: string[] = [];
    page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await use(page);
    expect(problems.filter((p) => !/dbus|Failed to connect|favicon|404 \(Not Found\)/.test(p))).toEqual([]);
  },
});
export { expect };
