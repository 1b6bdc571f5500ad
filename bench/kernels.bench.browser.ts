/** bench:kernels in headless Chromium (bench/kernels.ts says what it measures); writes bench-kernels.json. */
import { it } from 'vitest';
import { commands } from 'vitest/browser';
import { requestGpuDevice } from '../src/gpu/device';
import { Gpu } from '../src/gpu/gpu';
import * as ort from 'onnxruntime-web/webgpu';
import { randn } from '../src/model/random';
import { benchKernels, M1_SHAPES, table, type KernelRow } from './kernels';
import { matMulModel, matMulNBitsModel } from './onnxModel';

/**
 * The same GEMV shapes through onnxruntime-web's WebGPU provider: MatMul (f32) and MatMulNBits (int4,
 * blocks of 32), one token, timed around session.run (its input upload and 4·rows-byte readback included).
 */
async function ortRows(copyGBs: number, log: (line: string) => void): Promise<KernelRow[]> {
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = 1;
  const runtime = `onnxruntime-web ${ort.env.versions.web} (webgpu)`;
  const rows: KernelRow[] = [];
  for (const [n, k] of [[2048, 2048] as [number, number], ...M1_SHAPES]) {
    const block = 32;
    const blocks = Math.ceil(k / block);
    const nbits = new Uint8Array(n * blocks * (block / 2));
    crypto.getRandomValues(nbits.subarray(0, Math.min(nbits.length, 65536)));
    const cases: [string, () => Uint8Array, number][] = [
      ['f32', () => matMulModel(k, n, randn(k * n, n + k, 0.02)), 4 * k * n],
      ['int4', () => matMulNBitsModel(k, n, block, nbits, new Float32Array(n * blocks).fill(0.002)), nbits.length + 4 * n * blocks],
    ];
    for (const [format, make, bytes] of cases) {
      try {
        const session = await ort.InferenceSession.create(make(), { executionProviders: ['webgpu'] });
        const feeds = { x: new ort.Tensor('float32', randn(k, 7), [1, k]) };
        const ts: number[] = [];
        for (let r = 0; r < 4; r++) {
          const t = performance.now();
          await session.run(feeds);
          ts.push((performance.now() - t) / 1000);
        }
        await session.release();
        const s = ts.slice(1).sort((a, b) => a - b)[1];
        const row: KernelRow = { runtime, op: 'gemv', format: format as 'f32' | 'int4', shape: `${n}x${k}`, 'GB/s': +(bytes / s / 1e9).toFixed(3), 'ratio to copy': +(bytes / s / 1e9 / copyGBs).toFixed(4), 'GFLOP/s': +((2 * n * k) / s / 1e9).toFixed(2) };
        rows.push(row);
        log(`${runtime} ${format} ${n}x${k}: ${row['GB/s']} GB/s`);
      } catch (e) {
        log(`${runtime} ${format} ${n}x${k} failed: ${(e as Error).message}`);
      }
    }
  }
  return rows;
}

it('kernels: copy, read, GEMV and GEMM per format', async () => {
  const gpu = new Gpu(await requestGpuDevice());
  const browser = navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? navigator.userAgent;
  const info = gpu.device.adapterInfo;
  const { rows, alu } = await benchKernels(gpu, `lightmoe (${browser.replace('/', ' ')} WebGPU, ${info?.architecture || info?.vendor})`, console.log);
  gpu.destroy();
  rows.push(...(await ortRows(rows[0]['GB/s'], console.log)));
  console.log(`kernels, ${browser}, adapter ${info?.vendor} ${info?.architecture}, kernel choices ${JSON.stringify(gpu.choices)}:\n${table(rows)}`);
  await commands.writeFile('bench-kernels.json', JSON.stringify({ rows, alu, userAgent: navigator.userAgent, adapter: { vendor: info?.vendor, architecture: info?.architecture, description: info?.description }, choices: gpu.choices }, null, 2) + '\n');
});
