#!/usr/bin/env node
// `npm test`: type check, vitest (Node + headless Chromium WebGPU), Playwright e2e. Every stage runs even
// when an earlier one fails; the last line is the total as `N passed, N failed` (CI reads that line).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const VITEST_JSON = '.vitest-results.json';
const PLAYWRIGHT_JSON = '.playwright-results.json';
const only = process.argv.slice(2); // e.g. `npm test -- vitest` runs one stage
const want = (stage) => only.length === 0 || only.includes(stage);
let passed = 0;
let failed = 0;

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
  } else failed++;
}

if (want('e2e')) {
  rmSync(PLAYWRIGHT_JSON, { force: true });
  const code = run('npx', ['playwright', 'test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: PLAYWRIGHT_JSON });
  if (existsSync(PLAYWRIGHT_JSON)) {
    const s = JSON.parse(readFileSync(PLAYWRIGHT_JSON, 'utf8')).stats;
    passed += s.expected + s.flaky;
    failed += s.unexpected + s.skipped + (code !== 0 && s.unexpected === 0 ? 1 : 0);
  } else failed++;
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
