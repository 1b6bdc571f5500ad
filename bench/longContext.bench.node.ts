/**
 * bench:node, long context: prefill time of tiny-hybrid-stories' lightning layers (0-2) and of its
 * softmax layer (3), each as a model part fed hidden rows, at growing prompt lengths.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { openCheckpoint } from '../src/model/checkpoint';
import { Model } from '../src/engine/model';
import { nodeGpuDevice } from '../src/node/gpu';
import { nodeSource } from '../src/node/source';
import { randn } from '../src/model/random';

const shared = path.resolve(fileURLToPath(new URL('..', import.meta.url)), '../shared');

it('long context: prefill ms per token of lightning and softmax layers', async () => {
  const ckpt = await openCheckpoint(nodeSource(path.join(shared, 'models/tiny-hybrid-stories')));
  const H = ckpt.config.hiddenSize;
  const device = await nodeGpuDevice();
  const parts = { lightning: await Model.fromCheckpoint(ckpt, device, { layers: { from: 4, to: 7 } }), softmax: await Model.fromCheckpoint(ckpt, device, { layers: { from: 7, to: 8 } }) };
  for (const n of [256, 1024, 2048, 4096]) {
    const hidden = randn(n * H, n, 1);
    const row: string[] = [];
    for (const [kind, m] of Object.entries(parts)) {
      m.reset();
      await m.forward({ hidden: hidden.subarray(0, 16 * H) }, 'none');
      await device.queue.onSubmittedWorkDone();
      m.reset();
      const t0 = performance.now();
      await m.forward({ hidden }, 'none');
      await device.queue.onSubmittedWorkDone();
      const ms = performance.now() - t0;
      row.push(`${kind} ${(ms / n).toFixed(3)} ms/token (${(ms / 1000).toFixed(2)} s)`);
    }
    console.log(`n=${n}: ${row.join(', ')}`);
  }
});
