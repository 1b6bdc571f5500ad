/**
 * Peer comparison on stories260k (a tiny llama: 5 layers, dim 64, vocab 512), all in this one run:
 * lightmoe against transformers.js (onnxruntime-web) with its WebGPU and its wasm backend and wllama
 * (llama.cpp in wasm, on the CPU: its WebGPU backend needs shader-f16), on the same weights
 * (../shared/models/stories260k, its ONNX export in peers/onnx, its GGUF in peers/gguf). Greedy decode of
 * 64 tokens after "Once upon a time": decode tokens/s, prompt prefill tokens/s (5 tokens, the time
 * to the first token) and a longer prefill (prompt + the 64 expected ids, 69 tokens, one step).
 * Each runtime's greedy ids (wllama: its text, as it gives no ids) are checked against expected.json;
 * mismatches are reported, not fatal.
 * Offline: models and onnxruntime-web's wasm come from the vite test server.
 */
import { expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { AutoModelForCausalLM, AutoTokenizer, Tensor, env } from '@huggingface/transformers';
import { Wllama } from '@wllama/wllama';
import wllamaWasm from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import { requestGpuDevice } from '../src/gpu/device';
import { sharedJson, sharedSource, sharedUrl } from '../src/engine/fixtures';
import { Model } from '../src/engine/model';

const NEW_TOKENS = 64;
const REPS = 3;

interface Run {
  prefillS: number; // prompt → first token
  decodeS: number; // the remaining NEW_TOKENS - 1 tokens
  longPrefillS: number;
  ids: number[];
}

interface Row {
  runtime: string;
  'decode tok/s': number;
  'prefill tok/s (5)': number;
  'prefill tok/s (69)': number;
  'load s': number;
  'first call s': number;
  'greedy = expected': string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function compare(got: number[], want: number[]): { ok: boolean; text: string; firstMismatch: number | null } {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) if (got[i] !== want[i]) return { ok: false, text: `no: first diff at ${i} (${got[i]} vs ${want[i]}), ${got.length} ids`, firstMismatch: i };
  return { ok: true, text: `yes (${n} ids)`, firstMismatch: null };
}

function summarize(runtime: string, loadS: number, firstCallS: number, runs: Run[], prompt: number[], long: number[], want: number[]) {
  const check = compare(runs[runs.length - 1].ids, want);
  const row: Row = {
    runtime,
    'decode tok/s': +median(runs.map((r) => (NEW_TOKENS - 1) / r.decodeS)).toFixed(1),
    'prefill tok/s (5)': +median(runs.map((r) => prompt.length / r.prefillS)).toFixed(1),
    'prefill tok/s (69)': +median(runs.map((r) => long.length / r.longPrefillS)).toFixed(1),
    'load s': +loadS.toFixed(2),
    'first call s': +firstCallS.toFixed(2),
    'greedy = expected': check.text,
  };
  const consistent = runs.every((r) => compare(r.ids, runs[0].ids).ok);
  return { row, detail: { runtime, check, consistentAcrossReps: consistent, ids: runs[runs.length - 1].ids, runs } };
}

function textTable(rows: Row[]): string {
  const cols = Object.keys(rows[0] ?? {}) as (keyof Row)[];
  const cells = [cols.map(String), ...rows.map((r) => cols.map((c) => String(r[c])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((v, i) => (typeof rows[0]?.[cols[i]] === 'number' ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(' | ')).join('\n');
}

async function benchLightmoe(prompt: number[], long: number[], want: number[], quantize?: 'int8' | 'int4') {
  let t = performance.now();
  const model = await Model.load(sharedSource('models/stories260k'), await requestGpuDevice(), { quantize });
  const loadS = (performance.now() - t) / 1000;
  t = performance.now();
  await model.nextToken(prompt); // compile pipelines outside the timing
  model.reset();
  await model.nextToken(long);
  const firstCallS = (performance.now() - t) / 1000;
  const runs: Run[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    model.reset();
    const t0 = performance.now();
    // As generate() decodes greedily: the first token alone, then chains of 8 a GPU round trip, the
    // next chain queued while one is read back.
    const ids: number[] = [];
    let t1 = 0;
    for await (const chain of model.greedyChains(prompt, NEW_TOKENS, 8)) {
      t1 ||= performance.now();
      ids.push(...chain);
    }
    const t2 = performance.now();
    model.reset();
    const t3 = performance.now();
    await model.nextToken(long);
    const t4 = performance.now();
    runs.push({ prefillS: (t1 - t0) / 1000, decodeS: (t2 - t1) / 1000, longPrefillS: (t4 - t3) / 1000, ids });
  }
  model.destroy();
  return summarize(`lightmoe (WebGPU${quantize ? `, ${quantize}` : ''})`, loadS, firstCallS, runs, prompt, long, want);
}

const idsTensor = (ids: number[]) => new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);

async function benchTransformers(device: 'webgpu' | 'wasm', prompt: number[], long: number[], want: number[]) {
  let t = performance.now();
  const model = await AutoModelForCausalLM.from_pretrained('onnx', { device, dtype: 'fp32' });
  const loadS = (performance.now() - t) / 1000;
  const generate = async (ids: number[], maxNew: number) => {
    const puts: number[] = [];
    // generate() calls put() with the prompt, then once per new token after its forward step.
    const streamer = { put: () => void puts.push(performance.now()), end: () => {} };
    const t0 = performance.now();
    const out = (await model.generate({
      input_ids: idsTensor(ids),
      attention_mask: idsTensor(ids.map(() => 1)),
      max_new_tokens: maxNew,
      min_new_tokens: maxNew,
      do_sample: false,
      streamer: streamer as never,
    })) as Tensor;
    const t1 = performance.now();
    const seq = Array.from(out.tolist()[0] as bigint[], Number);
    return { t0, first: puts[1], t1, ids: seq.slice(ids.length) };
  };
  t = performance.now();
  await generate(prompt, 2); // session warm-up (shader compilation on WebGPU) outside the timing
  await generate(long, 1);
  const firstCallS = (performance.now() - t) / 1000;
  const runs: Run[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const g = await generate(prompt, NEW_TOKENS);
    const l = await generate(long, 1);
    runs.push({ prefillS: (g.first - g.t0) / 1000, decodeS: (g.t1 - g.first) / 1000, longPrefillS: (l.t1 - l.t0) / 1000, ids: g.ids });
  }
  await model.dispose();
  return summarize(`transformers.js ${env.version} (${device})`, loadS, firstCallS, runs, prompt, long, want);
}

/**
 * wllama, single-threaded (multi-threading needs a cross-origin-isolated page). Timed over its stream:
 * prompt → first chunk is the prefill, the rest the decode; its text is checked against expected.json.
 */
async function benchWllama(promptText: string, prompt: number[], long: number[], want: number[], wantText: string) {
  let t = performance.now();
  const wllama = new Wllama({ default: wllamaWasm }, { suppressNativeLog: true });
  await wllama.loadModelFromUrl(sharedUrl('models/stories260k/peers/gguf/stories260k-f32.gguf'), { n_ctx: 512, n_threads: 1, n_gpu_layers: 0, useCache: false });
  const loadS = (performance.now() - t) / 1000;
  const complete = async (text: string, maxTokens: number) => {
    const stamps: number[] = [];
    let out = '';
    const t0 = performance.now();
    for await (const chunk of await wllama.createCompletion({ prompt: text, max_tokens: maxTokens, temperature: 0, stream: true })) {
      stamps.push(performance.now());
      out += chunk.choices[0]?.text ?? '';
    }
    return { t0, first: stamps[0], t1: performance.now(), text: out, chunks: stamps.length };
  };
  const longText = promptText + wantText;
  t = performance.now();
  await complete(promptText, 2);
  await complete(longText, 1);
  const firstCallS = (performance.now() - t) / 1000;
  const runs: Run[] = [];
  let text = '';
  for (let rep = 0; rep < REPS; rep++) {
    const g = await complete(promptText, NEW_TOKENS);
    const l = await complete(longText, 1);
    text = g.text;
    runs.push({ prefillS: (g.first - g.t0) / 1000, decodeS: (g.t1 - g.first) / 1000, longPrefillS: (l.t1 - l.t0) / 1000, ids: [] });
  }
  await wllama.exit();
  const r = summarize('wllama 3.13 (wasm, 1 thread)', loadS, firstCallS, runs, prompt, long, want);
  // No ids from wllama: its text stands in for them.
  const ok = text === wantText;
  r.row['greedy = expected'] = ok ? `yes (text of ${NEW_TOKENS} ids)` : `no: text differs at ${[...text].findIndex((c, i) => c !== wantText[i])}`;
  r.detail.check = { ok, text: r.row['greedy = expected'], firstMismatch: null };
  return r;
}

it('peers on stories260k', async () => {
  const expected = await sharedJson('models/stories260k/expected.json');
  const p0 = expected.dtypes.float32.prompts[0];
  const prompt: number[] = p0.input_ids;
  const want: number[] = p0.greedy_ids.slice(0, NEW_TOKENS);
  const long = [...prompt, ...want];

  // transformers.js, offline: local model folder served by vite, ORT's wasm from node_modules.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = sharedUrl('models/stories260k/peers/');
  env.useBrowserCache = false;
  const ortDist = '/node_modules/onnxruntime-web/dist/';
  env.backends.onnx.wasm!.wasmPaths = { mjs: `${ortDist}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${ortDist}ort-wasm-simd-threaded.asyncify.wasm` };

  const tokenizer = await AutoTokenizer.from_pretrained('onnx');
  const tokenized = Array.from(tokenizer.encode(p0.prompt) as number[], Number);
  const tokenizerMatches = compare(tokenized, prompt).ok;

  const results = [];
  const errors: Record<string, string> = {};
  results.push(await benchLightmoe(prompt, long, want));
  results.push(await benchLightmoe(prompt, long, want, 'int8'));
  results.push(await benchLightmoe(prompt, long, want, 'int4')); // its greedy ids may differ from f32's: reported
  for (const device of ['webgpu', 'wasm'] as const) {
    try {
      results.push(await benchTransformers(device, prompt, long, want));
    } catch (e) {
      errors[`transformers.js (${device})`] = String((e as Error)?.stack ?? e);
      console.error(`transformers.js (${device}) failed:`, e);
    }
  }
  try {
    results.push(await benchWllama(p0.prompt, prompt, long, want, p0.greedy_text));
  } catch (e) {
    errors.wllama = String((e as Error)?.stack ?? e);
    console.error('wllama failed:', e);
  }
  const rows = results.map((r) => r.row);
  const report = {
    model: 'stories260k (float32)',
    prompt: p0.prompt,
    promptIds: prompt,
    newTokens: NEW_TOKENS,
    reps: REPS,
    statistic: 'median over reps',
    longPrefillTokens: long.length,
    versions: { transformersJs: env.version, onnxruntimeWeb: env.backends.onnx.versions?.web },
    ortWasm: { numThreads: env.backends.onnx.wasm?.numThreads, crossOriginIsolated: globalThis.crossOriginIsolated },
    transformersTokenizerMatchesPromptIds: tokenizerMatches,
    rows,
    details: results.map((r) => r.detail),
    errors,
    userAgent: navigator.userAgent,
  };
  console.table(rows);
  console.log(`stories260k, "${p0.prompt}" + ${NEW_TOKENS} greedy tokens, median of ${REPS}\n${textTable(rows)}`); // vitest's browser mode does not forward console.table
  for (const r of results) if (!r.detail.check.ok) console.warn(`${r.detail.runtime}: greedy ids differ from expected.json: ${r.detail.check.text}`);
  await commands.writeFile('bench-peers.json', JSON.stringify(report, null, 2) + '\n');
  expect(rows.length).toBeGreaterThan(0);
});
