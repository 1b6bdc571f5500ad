/**
 * Kernels against this adapter's own ceilings, in one run: copyBufferToBuffer (copy), a read-only
 * kernel that sums the same bytes a GEMV reads (read), and the GEMV (one token) of every weight
 * format at MiniMax-M1's expert shapes and a dense 2048×2048; GB/s of weight bytes read, and the ratio
 * to copy. Writes bench-kernels.json ({ rows: [{ runtime, op, format, shape, "GB/s", "ratio to copy" }] }).
 */
import { it } from 'vitest';
import { commands } from 'vitest/browser';
import { requestGpuDevice } from '../src/gpu/device';
import { Gpu } from '../src/gpu/gpu';
import { matmul } from '../src/gpu/matmul';
import { destroyTensor, tensorFromBytes, type StoredWeightDType } from '../src/gpu/tensor';
import { encode } from '../src/model/dtype';
import { randn } from '../src/model/random';

const REPS = 3;
const SHAPES: [number, number][] = [[2048, 2048], [9216, 6144], [6144, 9216]];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(gpu: Gpu, body: () => void): Promise<number> {
  const ts: number[] = [];
  for (let r = 0; r < REPS + 1; r++) {
    const t = performance.now();
    body();
    await gpu.device.queue.onSubmittedWorkDone();
    ts.push((performance.now() - t) / 1000);
  }
  return median(ts.slice(1)); // the first run compiles
}

it('kernels: copy, read and GEMV bandwidth per format', async () => {
  const gpu = new Gpu(await requestGpuDevice());
  const rows: Record<string, unknown>[] = [];
  const runtime = 'lightmoe (WebGPU)';
  const bytes = 256 << 20;
  const a = gpu.buffer(bytes, 'a');
  const b = gpu.buffer(bytes, 'b');
  const copyS = await timed(gpu, () => {
    const enc = gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(a, 0, b, 0, bytes);
    gpu.device.queue.submit([enc.finish()]);
  });
  const copy = bytes / copyS / 1e9;
  rows.push({ runtime, op: 'copy', format: '-', shape: '256 MiB', 'GB/s': +copy.toFixed(2), 'ratio to copy': 1 });
  // read: each invocation sums a contiguous run of vec4 words (no math beyond the adds), one write each.
  const module = gpu.device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read> w: array<vec4u>; @group(0) @binding(1) var<storage, read_write> o: array<u32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
        let per = arrayLength(&w) / 65536u; var s = vec4u(0u);
        for (var i = 0u; i < per; i++) { s += w[g.x * per + i]; }
        o[g.x] = s.x + s.y + s.z + s.w; }`,
  });
  const pipe = gpu.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const out = gpu.buffer(65536 * 4, 'o');
  const group = gpu.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: a } }, { binding: 1, resource: { buffer: out } }] });
  const readS = await timed(gpu, () => {
    const enc = gpu.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1024);
    pass.end();
    gpu.device.queue.submit([enc.finish()]);
  });
  rows.push({ runtime, op: 'read', format: '-', shape: '256 MiB', 'GB/s': +(bytes / readS / 1e9).toFixed(2), 'ratio to copy': +(bytes / readS / 1e9 / copy).toFixed(3) });
  a.destroy();
  b.destroy();

  for (const [r, k] of SHAPES) {
    const values = randn(r * k, r + k, 0.02);
    const x = gpu.upload(randn(k, 7), 'x');
    const y = gpu.buffer(r * 4, 'y');
    for (const format of ['f32', 'f16', 'bf16', 'int8', 'int4'] as const) {
      const stored: StoredWeightDType = format === 'int8' || format === 'int4' ? 'f32' : format;
      const w = await tensorFromBytes(gpu, `w ${format}`, stored, [r, k], encode(values, stored.toUpperCase() as 'F32'), format === 'int8' || format === 'int4' ? format : undefined);
      const wBytes = w.parts.reduce((s, p) => s + p.buffer.size, 0);
      const s = await timed(gpu, () => {
        const rec = gpu.recorder();
        matmul(gpu, rec, { x, n: 1, w, y });
        rec.submit();
      });
      const gbs = wBytes / s / 1e9;
      rows.push({ runtime, op: 'gemv', format, shape: `${r}x${k}`, 'GB/s': +gbs.toFixed(2), 'ratio to copy': +(gbs / copy).toFixed(3) });
      destroyTensor(w);
    }
    x.destroy();
    y.destroy();
  }
  console.log(`kernels (${navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0]}):\n` + rows.map((r) => Object.values(r).join(' | ')).join('\n'));
  await commands.writeFile('bench-kernels.json', JSON.stringify({ rows, userAgent: navigator.userAgent }, null, 2) + '\n');
  gpu.destroy();
});
