#!/usr/bin/env node
// The package's declaration files: `tsc -p tsconfig.build.json` into a fresh dist/types, then relative
// imports get the `.js` / `/index.js` that NodeNext resolution requires (the source, written for bundler
// resolution, has none), and the entry points reference the WebGPU types their signatures use.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = 'dist/types';
rmSync(root, { recursive: true, force: true });
const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
const ENTRIES = ['index.d.ts', 'node/index.d.ts'];

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (p.endsWith('.d.ts')) yield p;
  }
}

for (const file of files(root)) {
  const dir = path.dirname(file);
  const fix = (spec) => {
    if (!spec.startsWith('.') || spec.endsWith('.js')) return spec;
    if (existsSync(path.join(dir, spec + '.d.ts'))) return spec + '.js';
    if (existsSync(path.join(dir, spec, 'index.d.ts'))) return spec + '/index.js';
    throw new Error(`${file}: cannot resolve ${spec}`);
  };
  let text = readFileSync(file, 'utf8').replace(/(\bfrom\s*|\bimport\s*\(\s*)(['"])(\.[^'"]*)\2/g, (_, pre, q, spec) => `${pre}${q}${fix(spec)}${q}`);
  if (ENTRIES.includes(path.relative(root, file))) text = `/// <reference types="@webgpu/types" />\n${text}`;
  writeFileSync(file, text);
}
