/**
 * What a sequence holds on the GPU, from the config alone: the lightning layers' fixed-size states
 * and the softmax layers' KV caches, which grow by pages (src/engine/model.ts). lightmoe plan and the
 * long-context bench use it; Model.memory() reports what is allocated.
 */
import type { ModelConfig } from '../model/config';
import { kvRowBytes } from '../gpu/attention';
import type { KvFormat } from '../gpu/gpu';

export interface SequenceBytes {
  /** All lightning layers' states: numHeads × headDim² f32 each, whatever the length. */
  lightningState: number;
  /** KV bytes a token adds over all softmax layers (keys and values in the KV format, heads padded to quads). */
  kvPerToken: number;
  /** KV bytes at `tokens`, in whole pages. */
  kv: number;
}

export function sequenceBytes(c: ModelConfig, tokens: number, format: KvFormat, pageTokens = 1): SequenceBytes {
  const lightning = c.layerKinds.filter((k) => k === 'lightning').length;
  const softmax = c.layerKinds.length - lightning;
  const kvPerToken = softmax * 2 * kvRowBytes(c.numKvHeads, c.headDim, format);
  return {
    lightningState: lightning * c.numHeads * c.headDim * c.headDim * 4,
    kvPerToken,
    kv: Math.ceil(tokens / pageTokens) * pageTokens * kvPerToken,
  };
}
