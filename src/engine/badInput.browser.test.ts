import { describe, expect, it } from 'vitest';
import { requestGpuDevice } from '../gpu/device';
import { makeDefaultModel } from '../model/defaultModel';
import { memorySource } from '../model/source';
import { maxAbsDiff } from '../gpu/testing';
import { Model } from './model';

// Bad input gets an error that names the file, tensor or field, and nothing breaks: the same device
// loads and runs a good model afterwards.
const good = makeDefaultModel();
const st = good['model.safetensors'] as Uint8Array;
const headerLen = Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true));
const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + headerLen)));

function withHeader(h: object): Uint8Array {
  let json = JSON.stringify(h);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + st.length - 8 - headerLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(st.subarray(8 + headerLen), 8 + hb.length);
  return out;
}

const cases: [string, Record<string, Uint8Array | string>, RegExp][] = [
  ['config.json is not JSON', { ...good, 'config.json': '{"vocab_size": 259,' }, /config\.json: not valid JSON/],
  ['a config field has the wrong type', { ...good, 'config.json': JSON.stringify({ ...JSON.parse(good['config.json'] as string), num_attention_heads: 'four' }) }, /config\.json.*num_attention_heads/],
  ['attn_type_list is too short', { ...good, 'config.json': JSON.stringify({ ...JSON.parse(good['config.json'] as string), attn_type_list: [0, 1] }) }, /attn_type_list/],
  ['the safetensors file is truncated', { ...good, 'model.safetensors': st.subarray(0, st.length - 1000) }, /model\.safetensors.*tensor "[^"]+"/],
  ['the header length points past the end', { ...good, 'model.safetensors': (() => { const b = st.slice(); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })() }, /model\.safetensors.*header/],
  ['a tensor has the wrong shape', { ...good, 'model.safetensors': withHeader({ ...header, 'model.layers.0.self_attn.qkv_proj.weight': { ...header['model.layers.0.self_attn.qkv_proj.weight'], shape: [64, 192] } }) }, /model\.layers\.0\.self_attn\.qkv_proj\.weight/],
  ['a tensor is missing', { ...good, 'model.safetensors': withHeader(Object.fromEntries(Object.entries(header).filter(([k]) => k !== 'model.norm.weight'))) }, /model\.norm\.weight/],
  ['an unsupported dtype', { ...good, 'model.safetensors': withHeader({ ...header, 'model.norm.weight': { ...header['model.norm.weight'], dtype: 'I16' } }) }, /model\.norm\.weight.*I16/],
];

/** The default model with one tensor's values replaced. */
function withValues(name: string, value: number): Record<string, Uint8Array | string> {
  const t = header[name];
  const bytes = st.slice();
  const view = new DataView(bytes.buffer);
  const [begin, end] = t.data_offsets;
  for (let o = 8 + headerLen + begin; o < 8 + headerLen + end; o += 4) view.setFloat32(o, value, true); // the gates are F32
  return { ...good, 'model.safetensors': bytes };
}

describe('bad model files', () => {
  for (const [what, files, message] of cases)
    it(what, async () => {
      const device = await requestGpuDevice();
      await expect(Model.load(memorySource('bad', files), device)).rejects.toThrow(message);
    });

  it('NaN weights are reported, not run into a crash', async () => {
    const files = withValues('model.layers.1.block_sparse_moe.gate.weight', NaN);
    const model = await Model.load(memorySource('nan', files), await requestGpuDevice());
    await expect(model.forward([1, 70, 80], 'last')).rejects.toThrow(/the logits of position 2 are not finite/);
    model.destroy();
    // Streamed experts are chosen on the CPU, which sees the bad routing first.
    const streamed = await Model.load(memorySource('nan', files), await requestGpuDevice(), { expertBudget: 0.5 });
    await expect(streamed.forward([1, 70, 80], 'last')).rejects.toThrow(/layer 1: the router chose no expert for token 0: its logits are not finite/);
    streamed.destroy();
  });

  it('out-of-vocabulary ids are refused before any GPU work, and the sequence is kept', async () => {
    const model = await Model.load(memorySource('good', good), await requestGpuDevice());
    const before = await model.forward([1, 70, 80], 'last');
    model.reset();
    await model.forward([1, 70], 'none');
    await expect(model.forward([80, 259], 'last')).rejects.toThrow(/token id 259 at position 1/);
    await expect(model.forward([-1], 'last')).rejects.toThrow(/token id -1/);
    await expect(model.forward([2.5], 'last')).rejects.toThrow(/token id 2.5/);
    // Same logits as one prefill of [1, 70, 80], up to summation order.
    expect(maxAbsDiff(await model.forward([80], 'last'), before)).toBeLessThan(1e-4);
    model.destroy();
  });
});
