/**
 * Where a decode step's and a prefill's GPU time goes: stories260k and tiny-hybrid-stories (MoE) decode, and prefill 69
 * tokens, with every dispatch in a pass of its own,
 * timed by timestamp queries (the adapter must offer timestamp-query), summed per kernel and constants;
 * with the dispatches, passes and submits a token costs (Gpu.counts); and the floor those counts put
 * under a token on this adapter: what an empty dispatch costs inside a pass, what an empty pass costs,
 * and the round trip of a submit with a 4-byte readback.
 */
import { it } from 'vitest';
import { sharedJson, sharedSource } from '../src/engine/fixtures';
import { Model } from '../src/engine/model';
import { Recorder } from '../src/gpu/gpu';
import { openCheckpoint } from '../src/model/checkpoint';

for (const name of ['models/stories260k', 'models/tiny-hybrid-stories'])
it(`decode and prefill profile: GPU time per kernel, dispatches per token (${name})`, async () => {
  const expected = await sharedJson(`${name}/expected.json`);
  const prompt: number[] = expected.dtypes.float32.prompts[0].input_ids;
  const adapter = (await navigator.gpu.requestAdapter())!;
  const device = await adapter.requestDevice({ requiredFeatures: ['timestamp-query'] });
  const model = await Model.fromCheckpoint(await openCheckpoint(sharedSource(name)), device);
  await model.nextToken(prompt);
  let id = await model.nextToken([5]);
  const c0 = { ...model.gpu.counts };
  for (let i = 0; i < 16; i++) id = await model.nextToken([id]);
  const c1 = { ...model.gpu.counts };
  console.log(`per token: ${(c1.dispatches - c0.dispatches) / 16} dispatches, ${(c1.passes - c0.passes) / 16} passes, ${(c1.submits - c0.submits) / 16} submits`);
  const qs = device.createQuerySet({ type: 'timestamp', count: 4096 });
  const resolve = device.createBuffer({ size: 4096 * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 4096 * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  // GPU time per kernel of `step`, averaged over T runs after one that compiles its pipelines.
  const perKernel = async (step: () => Promise<unknown>, T: number) => {
    await step();
    const labels: string[] = [];
    const proto = Recorder.prototype as any;
    const origBind = proto.bind;
    proto.bind = function (this: any, pipeline: GPUComputePipeline, params: unknown, bindings: unknown) {
      this.pass?.end();
      const i = labels.length;
      labels.push(pipeline.label.split(':')[0] + ':' + pipeline.label.split(':').slice(1).join(':'));
      this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      return origBind.call(this, pipeline, params, bindings);
    };
    const totals = new Map<string, { ns: number; n: number }>();
    for (let k = 0; k < T; k++) {
      labels.length = 0;
      await step();
      const enc = device.createCommandEncoder();
      enc.resolveQuerySet(qs, 0, 2 * labels.length, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * labels.length);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const ts = new BigUint64Array(read.getMappedRange().slice(0, 16 * labels.length));
      read.unmap();
      labels.forEach((l, i) => {
        const e = totals.get(l) ?? { ns: 0, n: 0 };
        e.ns += Number(ts[2 * i + 1] - ts[2 * i]);
        e.n++;
        totals.set(l, e);
      });
    }
    proto.bind = origBind;
    const rows = [...totals].map(([l, e]) => [l, e.ns / T / 1e3, e.n / T] as const).sort((a, b) => b[1] - a[1]);
    return rows.map(([l, us, n]) => `${us.toFixed(0).padStart(7)} µs  ${n}×  ${l}`).join('\n') + `\n total ${rows.reduce((s, r) => s + r[1], 0).toFixed(0)} µs`;
  };
  const decode = await perKernel(async () => (id = await model.nextToken([id])), 8);
  // A 69-token prompt (the peers bench's long prefill): the prompt and its greedy continuation.
  const long = [...prompt, ...expected.dtypes.float32.prompts[0].greedy_ids].slice(0, 69);
  const prefill = await perKernel(async () => {
    model.reset();
    await model.nextToken(long);
  }, 4);

  // The floor: D empty dispatches in one pass, P empty passes, one submit + 4-byte readback.
  const floor = async (dispatches: number, passes: number) => {
    const module = device.createShaderModule({ code: '@compute @workgroup_size(1) fn main() {}' });
    const pipe = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const out = device.createBuffer({ size: 4, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE });
    const back = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const ts: number[] = [];
    for (let r = 0; r < 12; r++) {
      const t = performance.now();
      const enc = device.createCommandEncoder();
      for (let p = 0; p < passes; p++) {
        const pass = enc.beginComputePass();
        pass.setPipeline(pipe);
        for (let d = 0; d < Math.ceil(dispatches / passes); d++) pass.dispatchWorkgroups(1);
        pass.end();
      }
      enc.copyBufferToBuffer(out, 0, back, 0, 4);
      device.queue.submit([enc.finish()]);
      await back.mapAsync(GPUMapMode.READ);
      back.unmap();
      ts.push(performance.now() - t);
    }
    return ts.slice(2).sort((a, b) => a - b)[5];
  };
  const perDispatch = (c1.dispatches - c0.dispatches) / 16;
  const perPass = (c1.passes - c0.passes) / 16;
  const roundTrip = await floor(0, 1);
  const empty = await floor(perDispatch, perPass);
  const many = await floor(1000, 1);
  const onePass = await floor(perDispatch, 1);
  const passesOnly = await floor(perPass, perPass);
  // A greedy chain (generate's decode) records 8 tokens into one submit: its fixed cost is shared.
  const chain = (await floor(8 * perDispatch, 8 * perPass)) / 8;
  console.log(
    `floor on this adapter: submit + 4-byte readback ${roundTrip.toFixed(2)} ms; an empty dispatch ${((many - roundTrip) / 1000 * 1e3).toFixed(1)} µs; ` +
      `a token's ${perDispatch} dispatches in ${perPass} passes, all empty, a submit a token: ${empty.toFixed(2)} ms a token (${(1000 / empty).toFixed(0)} tok/s at most); ` +
      `the same dispatches in one pass ${onePass.toFixed(2)} ms; ${perPass} passes of one dispatch ${passesOnly.toFixed(2)} ms; ` +
      `8 tokens' empty dispatches in one submit (a greedy chain): ${chain.toFixed(2)} ms a token (${(1000 / chain).toFixed(0)} tok/s at most)`,
  );
  console.log(`decode, a token:\n${decode}\nprefill of ${long.length} tokens:\n${prefill}`);
  model.destroy();
});
