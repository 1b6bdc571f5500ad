/**
 * What a browser would do with the real model: one lightning and one softmax layer with their MoE at
 * MiniMax-M1's real dimensions (../shared/spec/minimax-m1-config.json: hidden 6144, 64 heads × 128,
 * 8 kv heads, 32 experts of 9216, top-2), int4 as `lightmoe quantize` writes it, experts streamed from
 * IndexedDB through a GPU cache holding 25% of them. Two cuts, both outside what a layer computes per
 * token: the vocabulary is 1024 (the embedding and lm_head are not part of a layer), and each layer has
 * EXPERTS experts instead of 32, because the test browser's IndexedDB lives in memory and refuses
 * more than about 2 GB (32 experts a layer would be 8.4 GB; an expert here is the real 127 MB, and top-2
 * of them run a token). The checkpoint is random, made up range by range as the store downloads it,
 * and deleted afterwards.
 * Reports ms per layer per token, bytes moved per token, GB/s from IndexedDB onto the GPU and the
 * weight bytes the kernels read as a fraction of the adapter's copy bandwidth. Writes bench-m1.json.
 */
import { expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { sharedJson } from '../src/engine/fixtures';
import { Model } from '../src/engine/model';
import { requestGpuDevice } from '../src/gpu/device';
import { Gpu } from '../src/gpu/gpu';
import { parseConfig } from '../src/model/config';
import { toF16Bits } from '../src/model/dtype';
import { isQuantized } from '../src/model/quantize';
import { DTYPE_BYTES, type DType } from '../src/model/safetensors';
import { expectedTensors, quantizedTensorShapes, qweightName, scalesName } from '../src/model/weights';
import { deleteModel, downloadModel, openStoredCheckpoint } from '../src/store/modelStore';

const PROMPT = 4;
const TOKENS = 8;
const BUDGET = 0.25;
const EXPERTS = 6;

/** How a tensor's bytes are made: random bytes (quantized data), a repeated 4-byte word, or small random f32. */
type Fill = { kind: 'random' } | { kind: 'word'; word: number } | { kind: 'small' };
interface Region {
  name: string;
  dtype: DType;
  shape: number[];
  start: number;
  bytes: number;
  fill: Fill;
}

const RANDOM = (() => {
  const block = new Uint8Array(4 << 20);
  for (let o = 0; o < block.length; o += 65536) crypto.getRandomValues(block.subarray(o, o + 65536));
  return block;
})();
// Uniform in [-0.02, 0.02]: f32 router gates and embeddings.
const SMALL = new Uint32Array(Float32Array.from({ length: 1 << 20 }, (_, i) => Math.sin(i * 12.9898) * 0.02).buffer);

/** A safetensors file of the config's tensors, int4 where isQuantized says so. */
function layout(config: ReturnType<typeof parseConfig>): { header: Uint8Array; regions: Region[]; size: number } {
  const regions: Region[] = [];
  let off = 0;
  const add = (name: string, dtype: DType, shape: number[], fill: Fill) => {
    const bytes = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    regions.push({ name, dtype, shape, start: off, bytes, fill });
    off += bytes;
  };
  // A block's (scale, minimum): weights q·s + m in [-0.0075, 0.0075].
  const scale = toF16Bits(0.001) | (toF16Bits(-0.0075) << 16);
  for (const [name, { shape }] of expectedTensors(config)) {
    if (isQuantized(name)) {
      const q = quantizedTensorShapes('int4', shape[0], shape[1]);
      add(scalesName(name), q.scales.dtype, q.scales.shape, { kind: 'word', word: scale });
      add(qweightName(name), q.data.dtype, q.data.shape, { kind: 'random' });
    } else add(name, 'F32', shape, shape.length === 1 ? { kind: 'word', word: 0x3f800000 } : { kind: 'small' });
  }
  // F32 and F16 first in the file, so every tensor is aligned to its element size.
  regions.sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype]);
  off = 0;
  for (const r of regions) (r.start = off), (off += r.bytes);
  const json: Record<string, unknown> = {};
  for (const r of regions) json[r.name] = { dtype: r.dtype, shape: r.shape, data_offsets: [r.start, r.start + r.bytes] };
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const h = new TextEncoder().encode(text);
  const header = new Uint8Array(8 + h.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(h.length), true);
  header.set(h, 8);
  for (const r of regions) r.start += header.length;
  return { header, regions, size: header.length + off };
}

/** Bytes [start, end) of the file. */
function bytesOf(file: ReturnType<typeof layout>, start: number, end: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(end - start);
  if (start < file.header.length) out.set(file.header.subarray(start, Math.min(end, file.header.length)));
  for (const r of file.regions) {
    const lo = Math.max(start, r.start);
    const hi = Math.min(end, r.start + r.bytes);
    if (hi <= lo) continue;
    const dst = out.subarray(lo - start, hi - start);
    const from = lo - r.start; // a multiple of 4 except in the random regions, which do not care
    if (r.fill.kind === 'random') for (let o = 0; o < dst.length; ) {
      const at = (from + o) % RANDOM.length;
      const n = Math.min(dst.length - o, RANDOM.length - at);
      dst.set(RANDOM.subarray(at, at + n), o);
      o += n;
    }
    else {
      const words = new Uint32Array(Math.ceil((dst.length + 8) / 4));
      if (r.fill.kind === 'word') words.fill(r.fill.word);
      else for (let i = 0; i < words.length; i++) words[i] = SMALL[((from >> 2) + i) % SMALL.length];
      dst.set(new Uint8Array(words.buffer, from % 4, dst.length));
    }
  }
  return out;
}

it('an M1-shaped lightning + softmax layer pair, int4, experts streamed from IndexedDB at 25%', async () => {
  const m1 = await sharedJson('spec/minimax-m1-config.json');
  const configJson = { ...m1, num_hidden_layers: 2, attn_type_list: [0, 1], vocab_size: 1024, num_local_experts: EXPERTS, quantization_config: { quant_method: 'lightmoe', bits: 4, block_size: 16 } };
  const config = parseConfig(configJson);
  const file = layout(config);
  const base = 'http://models.test/m1-layers-int4/';
  const serve: typeof fetch = async (input, init) => {
    const url = String(input);
    if (url === base + 'config.json') return new Response(JSON.stringify(configJson));
    if (url !== base + 'model.safetensors') return new Response('not found', { status: 404 });
    const m = /^bytes=(\d+)-(\d+)$/.exec(new Headers(init?.headers).get('Range') ?? '');
    if (!m) return new Response('this bench serves ranges only', { status: 416 });
    const [s, e] = [Number(m[1]), Math.min(Number(m[2]) + 1, file.size)];
    return new Response(bytesOf(file, s, e), { status: 206, headers: { 'Content-Range': `bytes ${s}-${e - 1}/${file.size}` } });
  };

  let t = performance.now();
  await downloadModel(base, { fetch: serve });
  const storeS = (performance.now() - t) / 1000;
  try {
    const ckpt = await openStoredCheckpoint(base);
    const expertBytes = file.regions.filter((r) => r.name.includes('.experts.')).reduce((s, r) => s + r.bytes, 0);
    const denseBytes = file.size - file.header.length - expertBytes;
    const perExpert = expertBytes / (config.numLayers * config.numExperts);

    const gpu = new Gpu(await requestGpuDevice());
    const copyBytes = 256 << 20;
    const [a, b] = [gpu.buffer(copyBytes, 'a'), gpu.buffer(copyBytes, 'b')];
    const copyOnce = async () => {
      const enc = gpu.device.createCommandEncoder();
      enc.copyBufferToBuffer(a, 0, b, 0, copyBytes);
      gpu.device.queue.submit([enc.finish()]);
      await gpu.device.queue.onSubmittedWorkDone();
    };
    await copyOnce();
    t = performance.now();
    await copyOnce();
    const copyGBs = copyBytes / ((performance.now() - t) / 1000) / 1e9;
    gpu.destroy();

    t = performance.now();
    const model = await Model.fromCheckpoint(ckpt, await requestGpuDevice(), { expertBudget: BUDGET, prefetch: 'next' });
    const loadS = (performance.now() - t) / 1000;
    const ids = Array.from({ length: PROMPT }, (_, i) => (i * 389 + 7) % config.vocabSize);
    t = performance.now();
    let id = await model.nextToken(ids);
    const prefillS = (performance.now() - t) / 1000;
    const before = { ...model.experts!.stats };
    t = performance.now();
    // Decode steps on varied tokens: a random lm_head's greedy choice repeats one token, whose
    // routing would then never change.
    for (let i = 0; i < TOKENS; i++) id = await model.nextToken([(i * 613 + 101 + (id % 2)) % config.vocabSize]);
    const decodeS = (performance.now() - t) / 1000;
    const s = model.experts!.stats;
    const streamed = s.bytesStreamed - before.bytesStreamed;
    const stallS = (s.stallMs - before.stallMs) / 1000;
    const uses = s.hits + s.misses - before.hits - before.misses;
    model.destroy();

    // Bytes the kernels read a decoded token: every dense matrix, and k experts a layer.
    const readPerToken = denseBytes + config.numLayers * config.expertsPerToken * perExpert;
    const report = {
      config: { hidden: config.hiddenSize, heads: config.numHeads, headDim: config.headDim, kvHeads: config.numKvHeads, experts: config.numExperts, intermediate: config.intermediateSize, topK: config.expertsPerToken, layers: config.layerKinds },
      format: 'int4 (lightmoe quantize layout, blocks of 16)',
      checkpointGB: +(file.size / 1e9).toFixed(2),
      expertMB: +(perExpert / 1e6).toFixed(1),
      slotsPerLayer: Math.max(config.expertsPerToken, Math.round(BUDGET * config.numExperts)),
      expertsPerLayer: `${config.numExperts} (M1: 32)`,
      storeSeconds: +storeS.toFixed(1),
      storeGBs: +(file.size / storeS / 1e9).toFixed(3),
      loadSeconds: +loadS.toFixed(1),
      prefillTokens: PROMPT,
      prefillSeconds: +prefillS.toFixed(2),
      decodeTokens: TOKENS,
      msPerLayerPerToken: +((decodeS / TOKENS / config.numLayers) * 1000).toFixed(0),
      tokensPerSecond: +(TOKENS / decodeS).toFixed(3),
      hitRate: +((s.hits - before.hits) / uses).toFixed(3),
      streamedMBPerToken: +(streamed / TOKENS / 1e6).toFixed(1),
      kernelReadMBPerToken: +(readPerToken / 1e6).toFixed(1),
      streamGBsWhileStalled: stallS > 0 ? +(streamed / stallS / 1e9).toFixed(3) : null,
      stallSecondsPerToken: +(stallS / TOKENS).toFixed(2),
      copyGBs: +copyGBs.toFixed(2),
      kernelReadVsCopy: +((readPerToken * TOKENS) / decodeS / 1e9 / copyGBs).toFixed(4),
      userAgent: navigator.userAgent,
    };
    console.log(`M1-shaped layers:\n${JSON.stringify(report, null, 2)}`);
    await commands.writeFile('bench-m1.json', JSON.stringify(report, null, 2) + '\n');
    expect(report.tokensPerSecond).toBeGreaterThan(0);
  } finally {
    await deleteModel(base);
  }
});
