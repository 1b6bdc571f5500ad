/**
 * The built `lightmoe` command, run as a user runs it: `node bin/lightmoe.js ...` in a child process
 * (Dawn through the `webgpu` package; the node project's env pins the SwiftShader Vulkan driver).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startShardProcess } from './testing';

const root = fileURLToPath(new URL('../..', import.meta.url));
const shared = path.resolve(root, '../shared');
const golden = path.join(shared, 'golden/tiny_pow2_f32');
const stories = path.join(shared, 'models/stories260k');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function lightmoe(...args: string[]): Result {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(root, 'bin/lightmoe.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, LIGHTMOE_DEBUG: '' },
  });
  console.log(`lightmoe ${args[0]}: ${((performance.now() - t0) / 1000).toFixed(2)} s, exit ${r.status}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI's own error lines (Dawn may print warnings of its own on stderr). */
const cliErrors = (r: Result) => r.stderr.split('\n').filter((l) => l.startsWith('lightmoe:'));

let tmp: string;

beforeAll(async () => {
  // Always rebuild: a stale dist/node/cli.js would test old code. Takes about a second.
  execFileSync('npx', ['vite', 'build', '--config', 'vite.node.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  tmp = await mkdtemp(path.join(tmpdir(), 'lightmoe-cli-'));
}, 120_000);

afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('golden tiny_pow2_f32', () => {
  test('logits of input_ids.bin match logits.bin', async () => {
    const out = path.join(tmp, 'logits.bin');
    const r = lightmoe('logits', '--model', golden, '--ids', path.join(golden, 'input_ids.bin'), '--out', out);
    expect(r.stderr).not.toMatch(/^lightmoe:/m);
    expect(r.code).toBe(0);
    const got = new Float32Array(new Uint8Array(await readFile(out)).buffer);
    const want = new Float32Array(new Uint8Array(await readFile(path.join(golden, 'logits.bin'))).buffer);
    expect(got.length).toBe(want.length); // [300, 384]
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    console.log(`logits max |Δ| = ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThanOrEqual(2e-3);
  });

  test('greedy ids', async () => {
    const manifest = JSON.parse(await readFile(path.join(golden, 'manifest.json'), 'utf8'));
    const ids = manifest.input_ids.join(',');
    const r = lightmoe('generate', '--model', golden, '--ids', ids, '--max-tokens', '12', '--temperature', '0', '--json', '--ignore-eos');
    expect(r.stderr).not.toMatch(/^lightmoe:/m);
    expect(r.code).toBe(0);
    // No tokenizer.json in a golden folder: ids only.
    expect(JSON.parse(r.stdout)).toEqual({ ids: manifest.greedy.greedy_ids, timings: expect.any(Object) });
  });
});

test.each([0, 2])('stories260k: prompt %i → greedy ids and text', async (i) => {
  const expected = JSON.parse(await readFile(path.join(stories, 'expected.json'), 'utf8')).dtypes.float32.prompts[i];
  const r = lightmoe('generate', '--model', stories, '--prompt', expected.prompt, '--max-tokens', '64', '--temperature', '0', '--json', '--ignore-eos');
  expect(r.stderr).not.toMatch(/^lightmoe:/m);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toEqual({ ids: expected.greedy_ids, text: expected.greedy_text, timings: expect.any(Object) });
  // llama.cpp server's names: the prompt's tokens and the decoded ones after the first
  expect(out.timings).toMatchObject({ prompt_n: expected.input_ids.length, predicted_n: 63 });
  for (const k of ['prompt_ms', 'prompt_per_second', 'predicted_ms', 'predicted_per_second']) expect(out.timings[k]).toBeGreaterThan(0);
});

describe('sampling, stops and streamed experts', () => {
  test('same --seed, same sample; --stop ends the text before it', async () => {
    const args = ['generate', '--model', stories, '--prompt', 'Once upon a time', '--max-tokens', '24', '--temperature', '1', '--top-p', '0.9', '--seed', '42', '--json', '--ignore-eos'];
    const sample = () => {
      const { ids, text } = JSON.parse(lightmoe(...args).stdout);
      return { ids, text };
    };
    expect(sample()).toEqual(sample());
    const stopped = lightmoe('generate', '--model', stories, '--prompt', 'Once upon a time', '--max-tokens', '64', '--temperature', '0', '--stop', 'Lily', '--json');
    expect(JSON.parse(stopped.stdout).text).toBe(', there was a little girl named ');
  });

  test('--expert-budget 0.25 --prefetch gives the same logits as the resident model', async () => {
    const out = path.join(tmp, 'streamed.bin');
    const ids = path.join(golden, 'input_ids.bin');
    const r = lightmoe('logits', '--model', golden, '--ids', ids, '--out', out, '--expert-budget', '0.25', '--prefetch');
    expect(r.code).toBe(0);
    const resident = path.join(tmp, 'resident.bin');
    expect(lightmoe('logits', '--model', golden, '--ids', ids, '--out', resident).code).toBe(0);
    expect(Buffer.compare(await readFile(out), await readFile(resident))).toBe(0);
  });
});

test('--quantize int8 tells the stories260k story of expected.json', async () => {
  const e = JSON.parse(await readFile(path.join(stories, 'expected.json'), 'utf8')).dtypes.float32.prompts[0];
  const r = lightmoe('generate', '--model', stories, '--ids', e.input_ids.join(','), '--max-tokens', '64', '--temperature', '0', '--quantize', 'int8', '--json');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).ids).toEqual(e.greedy_ids);
  const bad = lightmoe('generate', '--model', stories, '--ids', '1', '--quantize', 'int3');
  expect(bad.code).toBe(2);
  expect(cliErrors(bad)[0]).toMatch(/--quantize must be one of int8, int4, got 'int3'/);
});

test('quantize writes a folder that loads as it is: the logits of quantize-on-load, resident and streamed, at a quarter of the bytes', async () => {
  const hybrid = path.join(shared, 'models/tiny-hybrid-stories');
  const out = path.join(tmp, 'hybrid-int4');
  const q = lightmoe('quantize', '--model', hybrid, '--to', 'int4', '--out', out);
  expect(q.code, q.stderr).toBe(0);
  expect(q.stdout).toMatch(/matrices quantized to int4/);
  const config = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8'));
  expect(config.quantization_config).toEqual({ quant_method: 'lightmoe', bits: 4, block_size: 16, symmetric: false });
  await readFile(path.join(out, 'tokenizer.json')); // copied along
  const [before, after] = await Promise.all([hybrid, out].map(async (d) => (await readFile(path.join(d, 'model.safetensors'))).length));
  expect(after).toBeLessThan(before * 0.3); // f32 → 6 bits a weight for nearly every byte
  const ids = '1,45,250,17,9,300';
  const want = path.join(tmp, 'on-load.bin');
  expect(lightmoe('logits', '--model', hybrid, '--ids', ids, '--out', want, '--quantize', 'int4').code).toBe(0);
  for (const extra of [[], ['--expert-budget', '0.5']]) {
    const got = path.join(tmp, `prequantized${extra.length}.bin`);
    const r = lightmoe('logits', '--model', out, '--ids', ids, '--out', got, ...extra);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.compare(await readFile(got), await readFile(want))).toBe(0);
  }
  const again = lightmoe('quantize', '--model', out, '--to', 'int8', '--out', path.join(tmp, 'twice'));
  expect(cliErrors(again)[0]).toMatch(/is already quantized \(int4\)/);
  const clobber = lightmoe('quantize', '--model', hybrid, '--to', 'int8', '--out', out);
  expect(cliErrors(clobber)[0]).toMatch(/exists and is not empty/);
});

test('--model default is the embedded default model, the same as the folder npm ci writes', () => {
  const args = ['--prompt', 'Once upon a time', '--max-tokens', '6', '--temperature', '0', '--json'];
  const embedded = lightmoe('generate', '--model', 'default', ...args);
  expect(embedded.code).toBe(0);
  const folder = lightmoe('generate', '--model', path.join(root, 'public/models/default'), ...args);
  expect(JSON.parse(embedded.stdout).ids).toEqual(JSON.parse(folder.stdout).ids);
  expect(JSON.parse(embedded.stdout).ids).toHaveLength(6);
});

describe('shards and plans', () => {
  test('logits --devices 2, and --shard to a lightmoe shard process: the bytes of one device', async () => {
    const ids = path.join(golden, 'input_ids.bin');
    const one = path.join(tmp, 'one-device.bin');
    expect(lightmoe('logits', '--model', golden, '--ids', ids, '--out', one).code).toBe(0);
    const two = path.join(tmp, 'two-devices.bin');
    const r = lightmoe('logits', '--model', golden, '--ids', ids, '--out', two, '--devices', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.compare(await readFile(two), await readFile(one))).toBe(0);
    const shard = await startShardProcess(golden, '3-5', 'cli-token');
    try {
      const remote = path.join(tmp, 'remote.bin');
      const s = lightmoe('logits', '--model', golden, '--ids', ids, '--out', remote, '--shard', shard.url, '--token', 'cli-token');
      expect(s.code, s.stderr).toBe(0);
      expect(Buffer.compare(await readFile(remote), await readFile(one))).toBe(0);
      const wrong = lightmoe('logits', '--model', golden, '--ids', ids, '--out', remote, '--shard', shard.url, '--token', 'nope');
      expect(wrong.code).toBe(1);
      expect(cliErrors(wrong)).toEqual([`lightmoe: shard ${shard.url}: wrong token`]);
    } finally {
      await shard.stop();
    }
  });

  test("plan on MiniMax-M1's config: a table per executor, or JSON", () => {
    const config = path.join(shared, 'spec/minimax-m1-config.json');
    const r = lightmoe('plan', '--config', config, '--device', '24GiB', '--remote', '128GiB@2000GB/s', '--remote', '128GiB', '--remote', '128GiB', '--remote', '128GiB', '--quantize', 'int4', '--context', '1000000');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^executor\s+layers\s+weights\s+state\s+memory\s+read rate\s+ms\/token\ndevice 0\s+0-\d+/);
    expect(r.stdout).toMatch(/remote 3\s+\d+-79 /);
    expect(r.stdout).toMatch(/fits\./);
    const j = JSON.parse(lightmoe('plan', '--config', config, '--device', '24GiB', '--device', '16GiB', '--quantize', 'int4', '--json').stdout);
    expect(j.fits).toBe(false);
    expect(j.placements.map((p: { layers: { from: number; to: number } }) => p.layers)).toEqual([expect.objectContaining({ from: 0 }), expect.objectContaining({ to: 80 })]);
    const bad = lightmoe('plan', '--config', config, '--device', '24 gigs');
    expect(bad.code).toBe(2);
    expect(cliErrors(bad)[0]).toMatch(/--device must be a size such as 24GiB/);
  });

  test('shard: usage errors name the option', () => {
    expect(cliErrors(lightmoe('shard', '--model', golden, '--layers', '3-5'))[0]).toMatch(/shard needs --token/);
    expect(cliErrors(lightmoe('shard', '--model', golden, '--layers', '5-3', '--token', 't'))[0]).toMatch(/the last layer comes before the first/);
    const r = lightmoe('shard', '--model', golden, '--layers', '3-9', '--token', 't');
    expect(r.code).toBe(1);
    expect(cliErrors(r)[0]).toMatch(/layers 3-9 is not a range of the model's layers 0-5/);
    expect(cliErrors(lightmoe('generate', '--model', golden, '--ids', '1', '--shard', 'http://x', '--token', 't'))[0]).toMatch(/--shard must be a ws:\/\/ or wss:\/\/ URL/);
  });
});

describe('bad input: one line on stderr, no stack trace', () => {
  test('missing --model → usage error, exit 2', () => {
    const r = lightmoe('generate', '--ids', '1,2');
    expect(r.code).toBe(2);
    expect(cliErrors(r)).toEqual(['lightmoe: generate needs --model (see lightmoe --help)']);
    expect(r.stdout).toBe('');
  });

  test('a folder without config.json → exit 1', () => {
    const r = lightmoe('logits', '--model', tmp, '--ids', '1,2', '--out', path.join(tmp, 'x.bin'));
    expect(r.code).toBe(1);
    expect(cliErrors(r)).toEqual([`lightmoe: ${tmp}/config.json: not found: is ${tmp} a model folder?`]);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  test('an id outside the vocabulary → exit 1, the id named', () => {
    const r = lightmoe('generate', '--model', golden, '--ids', '5,384', '--max-tokens', '1');
    expect(r.code).toBe(1);
    expect(cliErrors(r)).toEqual(['lightmoe: token id 384 at position 1 is outside the vocabulary (0 .. 383)']);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe('');
  });

  test('a bad sampling option → usage error naming it', () => {
    const r = lightmoe('generate', '--model', golden, '--ids', '1', '--top-p', '1.5');
    expect(r.code).toBe(2);
    expect(cliErrors(r)[0]).toMatch(/^lightmoe: --top-p must be a number in \(0, 1\], got '1.5'/);
  });

  test('--expert-budget outside (0, 1] → usage error', () => {
    const r = lightmoe('logits', '--model', golden, '--ids', '1', '--out', path.join(tmp, 'x.bin'), '--expert-budget', '0');
    expect(r.code).toBe(2);
    expect(cliErrors(r)[0]).toMatch(/--expert-budget must be a number in \(0, 1\]/);
  });

  test('--help → usage on stdout, exit 0', () => {
    const r = lightmoe('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage:\n {2}lightmoe logits/);
  });
});
