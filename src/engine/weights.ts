import type { AttnKind, ModelConfig } from '../model/config';
import type { TensorInfo } from '../model/safetensors';
import type { ModelSource, RandomAccessFile } from '../model/source';
import type { Gpu } from '../gpu/gpu';
import { uploadTensor, destroyTensor, type GpuTensor, type WeightDType } from '../gpu/tensor';

export interface ExpertWeights {
  w1: GpuTensor; // [I, Hs] gate proj
  w3: GpuTensor; // [I, Hs] up proj
  w2: GpuTensor; // [Hs, I] down proj
}

export interface LayerWeights {
  kind: AttnKind;
  inputNorm: GpuTensor;
  postNorm: GpuTensor;
  /** lightning: qkv_proj, output_gate, norm, out_proj; softmax: q_proj, k_proj, v_proj, o_proj */
  attn: Record<string, GpuTensor>;
  router: GpuTensor;
  experts: ExpertWeights[];
  shared: { gate: GpuTensor; up: GpuTensor; down: GpuTensor; coefficient: GpuTensor } | null;
}

export interface ModelWeights {
  embed: GpuTensor;
  lmHead: GpuTensor; // the embedding itself when tied
  norm: GpuTensor;
  layers: LayerWeights[];
}

export interface LoadProgress {
  phase: 'upload';
  loaded: number;
  total: number;
  tensor: string;
}

/** Uploads every tensor the config needs, in its stored dtype, reading each file by ranges. */
export async function uploadWeights(
  gpu: Gpu,
  c: ModelConfig,
  source: ModelSource,
  tensors: Map<string, TensorInfo>,
  onProgress?: (p: LoadProgress) => void,
): Promise<ModelWeights> {
  const files = new Map<string, Promise<RandomAccessFile>>();
  const open = (path: string) => {
    let f = files.get(path);
    if (!f) {
      f = source.open(path).then((file) => {
        if (!file) throw new Error(`${source.name}: ${path} disappeared while loading`);
        return file;
      });
      files.set(path, f);
    }
    return f;
  };
  const total = [...tensors.values()].reduce((s, t) => s + t.byteLength, 0);
  let loaded = 0;
  const uploaded: GpuTensor[] = [];
  const get = async (name: string): Promise<GpuTensor> => {
    const info = tensors.get(name);
    if (!info) throw new Error(`missing tensor ${name}`); // checkTensors has already named it
    const file = await open(info.file);
    const t = await uploadTensor(gpu, name, info.dtype.toLowerCase() as WeightDType, info.shape, (o, n) => file.read(info.offset + o, n));
    uploaded.push(t);
    loaded += info.byteLength;
    onProgress?.({ phase: 'upload', loaded, total, tensor: name });
    return t;
  };
  try {
    const embed = await get('model.embed_tokens.weight');
    const layers: LayerWeights[] = [];
    for (let i = 0; i < c.numLayers; i++) {
      const p = `model.layers.${i}.`;
      const kind = c.layerKinds[i];
      const names = kind === 'lightning' ? ['qkv_proj', 'output_gate', 'norm', 'out_proj'] : ['q_proj', 'k_proj', 'v_proj', 'o_proj'];
      const attn: Record<string, GpuTensor> = {};
      for (const n of names) attn[n] = await get(`${p}self_attn.${n}.weight`);
      const experts: ExpertWeights[] = [];
      for (let e = 0; e < c.numExperts; e++) {
        const q = `${p}block_sparse_moe.experts.${e}.`;
        experts.push({ w1: await get(q + 'w1.weight'), w3: await get(q + 'w3.weight'), w2: await get(q + 'w2.weight') });
      }
      const shared =
        c.sharedIntermediateSize > 0
          ? {
              gate: await get(`${p}shared_mlp.gate_proj.weight`),
              up: await get(`${p}shared_mlp.up_proj.weight`),
              down: await get(`${p}shared_mlp.down_proj.weight`),
              coefficient: await get(`${p}coefficient.weight`),
            }
          : null;
      layers.push({
        kind,
        inputNorm: await get(`${p}input_layernorm.weight`),
        postNorm: await get(`${p}post_attention_layernorm.weight`),
        attn,
        router: await get(`${p}block_sparse_moe.gate.weight`),
        experts,
        shared,
      });
    }
    const norm = await get('model.norm.weight');
    const lmHead = c.tieWordEmbeddings && !tensors.has('lm_head.weight') ? embed : await get('lm_head.weight');
    return { embed, lmHead, norm, layers };
  } catch (e) {
    uploaded.forEach(destroyTensor); // a failed load holds no GPU memory
    throw e;
  }
}

export function destroyWeights(w: ModelWeights): void {
  const all = new Set<GpuTensor>([w.embed, w.lmHead, w.norm]);
  for (const l of w.layers) {
    [l.inputNorm, l.postNorm, l.router, ...Object.values(l.attn)].forEach((t) => all.add(t));
    for (const e of l.experts) [e.w1, e.w3, e.w2].forEach((t) => all.add(t));
    if (l.shared) Object.values(l.shared).forEach((t) => all.add(t));
  }
  all.forEach(destroyTensor);
}
