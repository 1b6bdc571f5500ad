/** bench:kernels in headless Chromium (bench/kernels.ts says what it measures); writes bench-kernels.json. */
import { it } from 'vitest';
import { commands } from 'vitest/browser';
import { requestGpuDevice } from '../src/gpu/device';
import { Gpu } from '../src/gpu/gpu';
import { benchKernels, table } from './kernels';

it('kernels: copy, read, GEMV and GEMM per format', async () => {
  const gpu = new Gpu(await requestGpuDevice());
  const browser = navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? navigator.userAgent;
  const info = gpu.device.adapterInfo;
  const rows = await benchKernels(gpu, `lightmoe (${browser.replace('/', ' ')} WebGPU, ${info?.architecture || info?.vendor})`, console.log);
  console.log(`kernels, ${browser}, adapter ${info?.vendor} ${info?.architecture}, tiles of ${gpu.choices.tileRows}:\n${table(rows)}`);
  await commands.writeFile('bench-kernels.json', JSON.stringify({ rows, userAgent: navigator.userAgent, adapter: { vendor: info?.vendor, architecture: info?.architecture, description: info?.description }, tileRows: gpu.choices.tileRows }, null, 2) + '\n');
  gpu.destroy();
});
