import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { makeDefaultModel } from './defaultModel';
import { parseConfig } from './config';
import { indexCheckpoint } from './safetensors';
import { memorySource } from './source';
import { checkTensors } from './weights';

describe('default model', () => {
  it('is the same bytes every time', () => {
    const hash = (f: Record<string, Uint8Array | string>) => createHash('sha256').update(f['model.safetensors']).digest('hex');
    expect(hash(makeDefaultModel())).toBe(hash(makeDefaultModel()));
  });

  it('is a valid hybrid checkpoint: lightning and softmax layers, several experts, bf16 with f32 gates', async () => {
    const files = makeDefaultModel();
    const c = parseConfig(JSON.parse(files['config.json'] as string));
    expect(new Set(c.layerKinds)).toEqual(new Set(['lightning', 'softmax']));
    expect(c.numExperts).toBeGreaterThan(c.expertsPerToken);
    const tensors = await indexCheckpoint(memorySource('default', files));
    checkTensors(c, tensors);
    expect(tensors.get('model.layers.0.block_sparse_moe.gate.weight')!.dtype).toBe('F32');
    expect(tensors.get('model.layers.0.block_sparse_moe.experts.0.w1.weight')!.dtype).toBe('BF16');
  });
});
