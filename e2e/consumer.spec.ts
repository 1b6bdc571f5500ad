/**
 * lightmoe as its users get it: `npm pack`, the tarball installed into a scratch Vite app with Vite's
 * default config (dev server, and `vite build` + `vite preview`) and into a scratch Node project, the
 * README's examples run there as written, and the consumer's own `tsc` over them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PORTS, SHARED } from '../playwright.config';
import { expect, readJson, test } from './fixtures';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STORIES = path.join(SHARED, 'models/stories260k');
const STORY_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];
// What create-vite's vanilla-ts template writes (TypeScript 5.9), plus the WebGPU types.
const VANILLA_TS = {
  compilerOptions: {
    target: 'ES2022',
    useDefineForClassFields: true,
    module: 'ESNext',
    lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    types: ['vite/client', '@webgpu/types'],
    skipLibCheck: true,
    moduleResolution: 'bundler',
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    moduleDetection: 'force',
    noEmit: true,
    strict: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    erasableSyntaxOnly: true,
    noFallthroughCasesInSwitch: true,
    noUncheckedSideEffectImports: true,
  },
  include: ['src'],
};
const NODE_NEXT = {
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], strict: true, skipLibCheck: false, outDir: 'out', rootDir: 'src' },
  include: ['src'],
};

test.describe.configure({ mode: 'serial' });

let work: string;
let tarball: string;
let packed: string[];
const webApp = () => path.join(work, 'web-app');
const nodeApp = () => path.join(work, 'node-app');
const readme = () => readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The ```ts block of the README that starts with `firstLine`. */
function readmeExample(firstLine: string): string {
  const at = readme().indexOf('```ts\n' + firstLine);
  expect(at, `README has a ts block starting with ${firstLine}`).toBeGreaterThanOrEqual(0);
  const start = at + '```ts\n'.length;
  return readme().slice(start, readme().indexOf('```', start));
}

function sh(cwd: string, cmd: string, args: string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

const install = (dir: string) => sh(dir, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error']);

/** Starts a server and resolves once `url` answers; the caller kills it. */
async function serve(cwd: string, args: string[], url: string): Promise<ChildProcess> {
  const child = spawn('npx', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`npx ${args.join(' ')} exited: ${log}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`npx ${args.join(' ')} did not answer at ${url}: ${log}`);
}

const stop = (child: ChildProcess) => {
  try {
    process.kill(-child.pid!, 'SIGTERM'); // the whole group: npx and vite
  } catch {
    /* already gone */
  }
};

test.beforeAll(async () => {
  test.setTimeout(600_000);
  work = mkdtempSync(path.join(os.tmpdir(), 'lightmoe-consumer-'));
  sh(ROOT, 'npm', ['run', 'build']); // what `prepare` does before `npm pack` and `npm publish`
  const out = JSON.parse(sh(ROOT, 'npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work, '--loglevel=error']));
  tarball = path.join(work, out[0].filename);
  packed = out[0].files.map((f: { path: string }) => f.path);

  // The web app: Vite's vanilla-ts layout, no vite.config at all, the README's example as src/main.ts.
  mkdirSync(path.join(webApp(), 'src'), { recursive: true });
  writeFileSync(
    path.join(webApp(), 'package.json'),
    JSON.stringify({ name: 'web-app', private: true, type: 'module', dependencies: { lightmoe: `file:${tarball}` }, devDependencies: { vite: '8.3.8', typescript: '5.9.3' } }),
  );
  const page = (script: string) => `<!doctype html>\n<html lang="en"><head><meta charset="UTF-8" /><title>app</title></head><body><script type="module" src="/src/${script}"></script></body></html>\n`;
  writeFileSync(path.join(webApp(), 'index.html'), page('main.ts'));
  writeFileSync(path.join(webApp(), 'src/main.ts'), readmeExample("import { createEngine } from 'lightmoe';").replace("'/models/default/'", "'/models/stories260k/'"));
  // A second page: loads that must fail, each reported with its class and message.
  writeFileSync(path.join(webApp(), 'failures.html'), page('failures.ts'));
  writeFileSync(
    path.join(webApp(), 'src/failures.ts'),
    `import { ConfigError, createEngine } from 'lightmoe';

const model = new URLSearchParams(location.search).get('model') ?? '/models/nowhere/';
const t0 = performance.now();
createEngine({ model }).then(
  () => (document.body.dataset.result = 'loaded'),
  (e: Error) => {
    document.body.dataset.result = JSON.stringify({ name: e.name, message: e.message, configError: e instanceof ConfigError, ms: performance.now() - t0 });
  },
);
`,
  );
  writeFileSync(path.join(webApp(), 'tsconfig.json'), JSON.stringify(VANILLA_TS, null, 2));
  mkdirSync(path.join(webApp(), 'public/models/stories260k'), { recursive: true });
  for (const f of STORY_FILES) cpSync(path.join(STORIES, f), path.join(webApp(), 'public/models/stories260k', f));
  install(webApp());

  // The Node project: the README's Node example compiled by the consumer's tsc (NodeNext), then run.
  mkdirSync(path.join(nodeApp(), 'src'), { recursive: true });
  writeFileSync(
    path.join(nodeApp(), 'package.json'),
    JSON.stringify({ name: 'node-app', private: true, type: 'module', dependencies: { lightmoe: `file:${tarball}`, webgpu: '0.6.2' }, devDependencies: { typescript: '5.9.3', '@types/node': '20.19.43' } }),
  );
  writeFileSync(path.join(nodeApp(), 'src/main.ts'), readmeExample("import { createEngine } from 'lightmoe/node';").replace("'path/to/model'", JSON.stringify(STORIES)));
  writeFileSync(path.join(nodeApp(), 'tsconfig.json'), JSON.stringify(NODE_NEXT, null, 2));
  install(nodeApp());
});

test.afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the built package: no sources, tests or fixtures; a web app gets no Dawn', () => {
  expect(packed).toContain('dist/lib/index.js');
  expect(packed).toContain('dist/types/index.d.ts');
  expect(packed).toContain('dist/types/node/index.d.ts');
  expect(packed.filter((f) => /^src\/|\.test\.|golden|\.safetensors$|^e2e\/|^bench\//.test(f))).toEqual([]);
  // `webgpu` (Dawn's 132 MB of binaries) is an optional peer: only the Node project asked for it.
  expect(readdirSync(path.join(webApp(), 'node_modules'))).not.toContain('webgpu');
});

/** Opens the README's example page and returns the texts its story had, one per change while it streamed. */
async function storyOf(page: import('@playwright/test').Page, url: string): Promise<string[]> {
  // Every change of the first paragraph, seen by the page itself: polling from here misses a fast stream.
  await page.addInitScript(() => {
    const seen: string[] = ((window as unknown as { storyTexts: string[] }).storyTexts = []);
    new MutationObserver(() => {
      const t = document.querySelector('p')?.textContent;
      if (t && t !== seen.at(-1)) seen.push(t);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.goto(url);
  const story = page.locator('p').first();
  await expect(story).toBeVisible({ timeout: 60_000 });
  await expect
    .poll(async () => (await story.textContent()) ?? '', { timeout: 120_000, intervals: [50] })
    .toBe((await expected()).full_text);
  // The chat completion after it streams into a second paragraph.
  await expect(page.locator('p')).toHaveCount(2, { timeout: 60_000 });
  return page.evaluate(() => (window as unknown as { storyTexts: string[] }).storyTexts);
}

const expected = async () => (await readJson('models/stories260k/expected.json')).dtypes.float32.prompts[0];

test("vite dev: the README's example streams the exact greedy story", async ({ page }) => {
  const server = await serve(webApp(), ['vite', '--port', String(PORTS.consumerDev), '--strictPort'], `http://localhost:${PORTS.consumerDev}/`);
  try {
    const seen = await storyOf(page, `http://localhost:${PORTS.consumerDev}/`);
    expect(seen.length).toBeGreaterThan(3); // it grew while streaming
  } finally {
    stop(server);
  }
});

test('vite dev: a missing folder (SPA fallback) and a worker that does not load are rejected in seconds, naming what', async ({ page }) => {
  const base = `http://localhost:${PORTS.consumerDev}`;
  const server = await serve(webApp(), ['vite', '--port', String(PORTS.consumerDev), '--strictPort'], `${base}/`);
  const result = async () => {
    await expect(page.locator('body')).toHaveAttribute('data-result', /./, { timeout: 15_000 });
    return JSON.parse((await page.locator('body').getAttribute('data-result'))!);
  };
  try {
    // Vite's default appType 'spa' answers /models/nowhere/config.json with 200 and index.html.
    await page.goto(`${base}/failures.html`);
    const missing = await result();
    expect(missing).toMatchObject({ name: 'ConfigError', configError: true });
    expect(missing.message).toContain(`${base}/models/nowhere/config.json: not found`);
    // A model folder without weights, on the same SPA server.
    mkdirSync(path.join(webApp(), 'public/models/config-only'), { recursive: true });
    cpSync(path.join(STORIES, 'config.json'), path.join(webApp(), 'public/models/config-only/config.json'));
    await page.goto(`${base}/failures.html?model=/models/config-only/`);
    const noWeights = await result();
    expect(noWeights.name).toBe('CheckpointError');
    expect(noWeights.message).toMatch(/neither model\.safetensors\.index\.json nor model\.safetensors exists in .*config-only/);
    // The worker script answered with an HTML page.
    await page.route('**/worker-*.js*', (r) => r.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><p>app</p>' }));
    await page.goto(`${base}/failures.html?model=/models/stories260k/`);
    const worker = await result();
    expect(worker.name).toBe('WorkerStartError');
    expect(worker.message).toMatch(/worker \(http:\/\/localhost:\d+\/.*worker-.*\.js.*\) did not load/);
    for (const r of [missing, noWeights, worker]) console.log(`${r.name} after ${r.ms.toFixed(0)} ms: ${r.message}`);
  } finally {
    stop(server);
  }
});

test("vite build + preview: the README's example streams the exact greedy story; the page bundle holds only the client", async ({ page }) => {
  sh(webApp(), 'npx', ['vite', 'build']);
  const assets = path.join(webApp(), 'dist/assets');
  const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
  const entry = js.filter((f) => f.startsWith('index-'));
  const workerJs = js.filter((f) => f.startsWith('worker-'));
  expect(entry.length).toBe(1);
  expect(workerJs.length).toBe(1);
  // What the page loads before createEngine runs: the entry and its static imports (not the chunks it
  // imports dynamically, which are the in-thread engine of `worker: false`).
  const loaded = new Set<string>();
  const visit = (f: string) => {
    if (loaded.has(f)) return;
    loaded.add(f);
    const code = readFileSync(path.join(assets, f), 'utf8');
    for (const m of code.matchAll(/\bimport\s*(?:[\w$*{}\s,]+from\s*)?["']\.\/([^"']+)["']/g)) visit(m[1]);
  };
  visit(entry[0]);
  const pageCode = [...loaded].map((f) => readFileSync(path.join(assets, f), 'utf8')).join('\n');
  // The engine (pipelines, WGSL, safetensors) is in the worker; the page has the client alone.
  expect(pageCode).not.toContain('createComputePipeline');
  expect(pageCode).not.toContain('@compute');
  expect(readFileSync(path.join(assets, workerJs[0]), 'utf8')).toContain('@compute');
  const size = (f: string) => statSync(path.join(assets, f)).size;
  const pageBytes = [...loaded].reduce((n, f) => n + size(f), 0);
  console.log(`page loads ${[...loaded].join(' + ')}: ${pageBytes} bytes; worker ${workerJs[0]}: ${size(workerJs[0])} bytes; all JS: ${js.map((f) => `${f} ${size(f)}`).join(', ')}`);
  const server = await serve(webApp(), ['vite', 'preview', '--port', String(PORTS.consumerPreview), '--strictPort'], `http://localhost:${PORTS.consumerPreview}/`);
  try {
    await storyOf(page, `http://localhost:${PORTS.consumerPreview}/`);
  } finally {
    stop(server);
  }
});

test("the consumer's tsc (create-vite vanilla-ts options, TypeScript 5.9) reports no error", () => {
  expect(sh(webApp(), 'npx', ['tsc', '--version'])).toContain('5.9');
  sh(webApp(), 'npx', ['tsc', '-p', '.']);
});

const DAWN_ENV = { VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' };

test("Node: the README's lightmoe/node example compiles under NodeNext (no error) and tells the story", async () => {
  sh(nodeApp(), 'npx', ['tsc', '-p', '.']);
  const out = sh(nodeApp(), 'node', ['out/main.js'], DAWN_ENV);
  expect(out).toBe((await expected()).greedy_text + '\n');
});

test("Node: the lightmoe bin generates the greedy ids, and the README's first CLI line runs outside the repo", async () => {
  const e = await expected();
  const json = sh(nodeApp(), 'npx', ['lightmoe', 'generate', '--model', STORIES, '--prompt', e.prompt, '--max-tokens', '64', '--temperature', '0', '--json'], DAWN_ENV);
  expect(JSON.parse(json).ids).toEqual(e.greedy_ids);
  const line = readme().split('\n').find((l) => l.startsWith('npx lightmoe generate'))!;
  const args = line.replace(/\s+#.*$/, '').match(/"[^"]*"|\S+/g)!.slice(2).map((a) => a.replace(/^"|"$/g, ''));
  expect(args).toContain('--model');
  const text = sh(nodeApp(), 'npx', ['lightmoe', ...args], DAWN_ENV);
  expect(text.length).toBeGreaterThan(0);
});
