#!/usr/bin/env node
// `npm test`: type check, vitest (Node + headless Chromium WebGPU), Playwright e2e (the demo, and the
// packed package in scratch apps). Every stage runs even when an earlier one fails; the last line is the
// total as `N passed, N failed, N skipped` (CI reads that line).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VITEST_JSON = '.vitest-results.json';
const PLAYWRIGHT_JSON = '.playwright-results.json';
const only = process.argv.slice(2); // e.g. `npm test -- vitest` runs one stage
const want = (stage) => only.length === 0 || only.includes(stage);
let passed = 0;
let failed = 0;
let skipped = 0;

// The golden checkpoints and trained models the tests compare against live beside the clone.
const shared = path.resolve(fileURLToPath(new URL('..', import.meta.url)), '../shared');
const missing = ['golden', 'models/stories260k', 'models/tiny-hybrid-stories', 'spec'].filter((d) => !existsSync(path.join(shared, d)));
if (missing.length) {
  console.error(`npm test: ${shared} is missing ${missing.join(', ')}: the tests need the project's shared/ folder (golden logits, trained models, spec) beside this clone, as ../shared (see the README).`);
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(1);
}

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

if (want('tsc')) {
  const ok = run('npx', ['tsc', '-p', '.']) === 0;
  ok ? passed++ : failed++;
  console.log(`type check: ${ok ? 'passed' : 'FAILED'}`);
}

if (want('vitest')) {
  rmSync(VITEST_JSON, { force: true });
  const code = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${VITEST_JSON}`]);
  if (existsSync(VITEST_JSON)) {
    const r = JSON.parse(readFileSync(VITEST_JSON, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (code !== 0 && r.numFailedTests === 0 ? 1 : 0);
    skipped += r.numPendingTests + r.numTodoTests;
  } else failed++;
}

if (want('e2e')) {
  rmSync(PLAYWRIGHT_JSON, { force: true });
  const code = run('npx', ['playwright', 'test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: PLAYWRIGHT_JSON });
  if (existsSync(PLAYWRIGHT_JSON)) {
    const s = JSON.parse(readFileSync(PLAYWRIGHT_JSON, 'utf8')).stats;
    passed += s.expected + s.flaky;
    failed += s.unexpected + (code !== 0 && s.unexpected === 0 ? 1 : 0);
    skipped += s.skipped;
  } else failed++;
}

// Nothing here is meant to be skipped: a skipped test (say, a GPU test without an adapter) fails the run.
if (skipped) console.log(`${skipped} tests were skipped: the run fails`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed || skipped ? 1 : 0);
