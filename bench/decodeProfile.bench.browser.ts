/**
 * Where a decode step's GPU time goes: stories260k decode with every dispatch in a pass of its own,
 * timed by timestamp queries (the adapter must offer timestamp-query), summed per kernel and constants;
 * with the dispatches, passes and submits a token costs (Gpu.counts).
 */
import { it } from 'vitest';
import { sharedJson, sharedSource } from '../src/engine/fixtures';
import { Model } from '../src/engine/model';
import { Recorder } from '../src/gpu/gpu';
import { openCheckpoint } from '../src/model/checkpoint';

it('decode profile: GPU time per kernel, dispatches per token (stories260k)', async () => {
  const expected = await sharedJson('models/stories260k/expected.json');
  const prompt: number[] = expected.dtypes.float32.prompts[0].input_ids;
  const adapter = (await navigator.gpu.requestAdapter())!;
  const device = await adapter.requestDevice({ requiredFeatures: ['timestamp-query'] });
  const model = await Model.fromCheckpoint(await openCheckpoint(sharedSource(new URLSearchParams(location.search).get('m') ?? 'models/stories260k')), device);
  await model.nextToken(prompt);
  let id = await model.nextToken([5]);
  const c0 = { ...model.gpu.counts };
  for (let i = 0; i < 16; i++) id = await model.nextToken([id]);
  const c1 = model.gpu.counts;
  console.log(`per token: ${(c1.dispatches - c0.dispatches) / 16} dispatches, ${(c1.passes - c0.passes) / 16} passes, ${(c1.submits - c0.submits) / 16} submits`);
  const qs = device.createQuerySet({ type: 'timestamp', count: 4096 });
  const resolve = device.createBuffer({ size: 4096 * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 4096 * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const labels: string[] = [];
  const proto = Recorder.prototype as any;
  const origBind = proto.bind;
  proto.bind = function (this: any, pipeline: GPUComputePipeline, params: unknown, bindings: unknown) {
    this.pass?.end();
    const i = labels.length;
    labels.push(pipeline.label.split(':')[0] + ':' + pipeline.label.split(':').slice(2).join(':'));
    this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
    return origBind.call(this, pipeline, params, bindings);
  };
  const T = 8;
  const totals = new Map<string, { ns: number; n: number }>();
  for (let k = 0; k < T; k++) {
    labels.length = 0;
    id = await model.nextToken([id]);
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
  console.log(rows.map(([l, us, n]) => `${us.toFixed(0).padStart(7)} µs/token  ${n}×  ${l}`).join('\n') + `\n total ${rows.reduce((s, r) => s + r[1], 0).toFixed(0)} µs`);
  model.destroy();
});
