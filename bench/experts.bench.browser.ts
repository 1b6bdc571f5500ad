/**
 * Expert streaming on tiny-hybrid-stories (a trained router: random routers say nothing about caching).
 * Greedy decode of 4 prompts at expert budgets 100/50/25% with and without prefetch, LRU and LFU, and
 * int8/int4 resident and at 50%, quantized on load or pre-quantized (lightmoe quantize, stored as int4):
 * tokens/s, hit rate, prefetch precision, bytes streamed from IndexedDB, stall time; against the resident model and
 * against the adapter's copy bandwidth, all measured in this one run.
 */
import { expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { requestGpuDevice } from '../src/gpu/device';
import { Gpu } from '../src/gpu/gpu';
import { sharedJson, sharedSource, sharedUrl } from '../src/engine/fixtures';
import { Model, type ModelOptions } from '../src/engine/model';
import { downloadModel, openStoredCheckpoint } from '../src/store/modelStore';
import { openCheckpoint, type Checkpoint } from '../src/model/checkpoint';
import { quantizeInMemory } from '../src/model/quantizeCheckpoint';
import { readJson } from '../src/model/source';
import { memoryFetch } from '../src/store/testFetch';

const TOKENS = 48;

async function copyBandwidth(): Promise<number> {
  const gpu = new Gpu(await requestGpuDevice());
  const size = 64 << 20;
  const a = gpu.buffer(size, 'a');
  const b = gpu.buffer(size, 'b');
  const once = async () => {
    const rec = gpu.recorder();
    rec.copy(a, 0, b, 0, size);
    rec.submit();
    await gpu.device.queue.onSubmittedWorkDone();
  };
  await once();
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) await once();
  const s = (performance.now() - t0) / 1000;
  gpu.device.destroy();
  return (5 * size) / s / 1e9;
}

it('expert cache on tiny-hybrid-stories', async () => {
  const expected = await sharedJson('models/tiny-hybrid-stories/expected.json');
  const ref = await sharedJson('models/tiny-hybrid-stories/routing_stats.json');
  const prompts: number[][] = expected.dtypes.float32.prompts.slice(0, 4).map((p: { input_ids: number[] }) => p.input_ids);
  // Experts come from IndexedDB, one record per expert, as in a browser app.
  const url = new URL(sharedUrl('models/tiny-hybrid-stories/'), location.href).href;
  await downloadModel(url);
  const ckpt = await openStoredCheckpoint(url);
  const c = ckpt.config;
  const copyGBs = await copyBandwidth();
  // Weight bytes one decode step reads: everything but the experts, plus k experts per layer.
  const expertBytes = [...ckpt.tensors.values()].filter((t) => t.name.includes('.experts.')).reduce((s, t) => s + t.byteLength, 0);
  const denseBytes = [...ckpt.tensors.values()].reduce((s, t) => s + t.byteLength, 0) - expertBytes;
  const activeBytes = denseBytes + (expertBytes * c.expertsPerToken) / c.numExperts;

  // The same model pre-quantized to int4 (as lightmoe quantize writes it), stored in IndexedDB as int4 records.
  const f32Source = sharedSource('models/tiny-hybrid-stories');
  const int4Url = 'http://models.test/tiny-hybrid-int4/';
  const folder = await quantizeInMemory(await openCheckpoint(f32Source), (await readJson(f32Source, 'config.json')) as Record<string, unknown>, 'int4');
  await downloadModel(int4Url, { fetch: memoryFetch(int4Url, folder, { ranges: true }).fetch });
  const int4Ckpt = await openStoredCheckpoint(int4Url);

  const runs: { name: string; opts: ModelOptions; ckpt?: Checkpoint }[] = [{ name: 'resident', opts: {} }];
  for (const budget of [1, 0.5, 0.25])
    for (const prefetch of [false, 'layer', 'next'] as const)
      for (const policy of ['lru', 'lfu'] as const) runs.push({ name: `${budget * 100}% prefetch ${prefetch || 'off'} ${policy}`, opts: { expertBudget: budget, prefetch, evictionPolicy: policy } });
  for (const quantize of ['int8', 'int4'] as const)
    runs.push({ name: `${quantize} resident`, opts: { quantize } }, { name: `${quantize} 50% prefetch next lru`, opts: { quantize, expertBudget: 0.5, prefetch: 'next' } });
  runs.push({ name: 'int4 pre-quantized resident', opts: {}, ckpt: int4Ckpt }, { name: 'int4 pre-quantized 50% prefetch next lru', opts: { expertBudget: 0.5, prefetch: 'next' }, ckpt: int4Ckpt });

  const rows = [];
  for (const { name, opts, ckpt: from } of runs) {
    const model = await Model.fromCheckpoint(from ?? ckpt, await requestGpuDevice(), opts);
    await model.nextToken([1]); // compile pipelines outside the timing
    let tokens = 0;
    let seconds = 0;
    let promptTokens = 0;
    let prefillSeconds = 0;
    for (const ids of prompts) {
      model.reset();
      const t0 = performance.now();
      let id = await model.nextToken(ids);
      const t1 = performance.now();
      for (let i = 1; i < TOKENS; i++) id = await model.nextToken([id]);
      seconds += (performance.now() - t0) / 1000;
      tokens += TOKENS;
      prefillSeconds += (t1 - t0) / 1000;
      promptTokens += ids.length;
    }
    const s = model.experts?.stats;
    const tps = tokens / seconds;
    rows.push({
      run: name,
      slots: model.experts ? `${model.experts.slotsPerLayer}/${c.numExperts}` : `${c.numExperts}/${c.numExperts}`,
      'tokens/s': +tps.toFixed(1),
      'prefill tok/s': +(promptTokens / prefillSeconds).toFixed(1),
      'hit rate': s ? +(s.hits / (s.hits + s.misses)).toFixed(3) : 1,
      'prefetch precision': s && s.predicted ? +(s.predictedUsed / s.predicted).toFixed(3) : null,
      'MiB streamed': s ? +(s.bytesStreamed / 2 ** 20).toFixed(1) : 0,
      'stall ms': s ? +s.stallMs.toFixed(0) : 0,
      'weight GB/s vs copy': +((activeBytes * tps) / 1e9 / copyGBs).toFixed(4),
    });
    model.destroy();
  }
  const report = {
    adapter: 'this run',
    copyBandwidthGBs: +copyGBs.toFixed(2),
    tokensPerPrompt: TOKENS,
    prompts: prompts.length,
    reference: {
      lruHitRate: ref.summary.lru_hit_rate_mean_over_layers,
      prefetchRecall: ref.summary.prefetch_expert_recall_mean_layers_1_to_L_minus_1 ?? ref.summary['prefetch_expert_recall_mean_layers_1_to_L-1'],
    },
    rows,
  };
  console.log(`copy bandwidth ${report.copyBandwidthGBs} GB/s; reference LRU hit rates (slots→rate) ${JSON.stringify(report.reference.lruHitRate)}, prefetch recall ${JSON.stringify(report.reference.prefetchRecall)}`);
  console.table(rows);
  await commands.writeFile('bench-results.json', JSON.stringify(report, null, 2) + '\n');
  expect(rows.length).toBe(runs.length);
});
