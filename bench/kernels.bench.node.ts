/**
 * bench:node: the kernels of bench/kernels.ts through Dawn in Node, on the adapter nodeGpuDevice picks
 * (a real GPU, else lavapipe when Mesa ≥ 25 is installed, else SwiftShader; VK_ICD_FILENAMES pins one).
 * Writes bench-kernels-node.json.
 */
import { writeFileSync } from 'node:fs';
import { it } from 'vitest';
import { Gpu } from '../src/gpu/gpu';
import { nodeGpuDevice } from '../src/node/gpu';
import { benchKernels, table } from './kernels';

it('kernels in Node (Dawn): copy, read, GEMV and GEMM per format', async () => {
  const gpu = new Gpu(await nodeGpuDevice());
  const info = gpu.device.adapterInfo;
  const adapter = `${info?.vendor} ${info?.architecture} ${info?.description}`.trim();
  const { rows, alu } = await benchKernels(gpu, `lightmoe (Node Dawn, ${info?.description?.split(":")[0] || info?.architecture})`, console.log);
  console.log(`kernels, Node ${process.version}, adapter ${adapter}, kernel choices ${JSON.stringify(gpu.choices)}:\n${table(rows)}`);
  writeFileSync('bench-kernels-node.json', JSON.stringify({ rows, alu, node: process.version, adapter: { vendor: info?.vendor, architecture: info?.architecture, description: info?.description }, choices: gpu.choices }, null, 2) + '\n');
  gpu.destroy();
});
