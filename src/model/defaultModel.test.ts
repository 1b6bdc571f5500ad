import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { makeDefaultModel } from './defaultModel';
import { parseConfig } from './config';
import { indexCheckpoint } from './safetensors';
import { memorySource } from './source';
import { checkTensors } from './weights';
import { applyChatTemplate } from '../text/chatTemplate';
import { opensThinking } from '../text/thinking';

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

  it("has MiniMax-M1's chat template, whose reply prompt opens <think>", () => {
    const tc = JSON.parse(makeDefaultModel()['tokenizer_config.json'] as string);
    const text = applyChatTemplate(tc.chat_template, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
    expect(text).toBe('<begin_of_document><beginning_of_sentence>user name=user\nHi<end_of_sentence>\n<beginning_of_sentence>ai name=assistant\n<think>\n');
    expect(opensThinking(text)).toBe(true);
  });
});
