import type { AttnKind, LayerRange } from '../model/config';
import { expertTensorNames, type Checkpoint } from '../model/checkpoint';
import { ALONE, type ExpertStack } from '../gpu/expertSwiglu';
import type { Gpu } from '../gpu/gpu';
import { foldingNorms } from '../gpu/rmsnorm';
import { uploadTensor, destroyTensor, type GpuTensor, type StoredWeightDType } from '../gpu/tensor';
import { decode } from '../model/dtype';
import { imageLayout } from '../gpu/weightImage';
import { isQuantized, type QuantFormat } from '../model/quantize';
import { stackMatrices, storedMatrix, uploadStoredMatrix, type StoredMatrix } from './matrices';

/**
 * One expert's matrices. A layer's resident experts are stacked, each matrix of them in one tensor
 * (expert e at `stack.index` e), when each stack fits one storage binding: one dispatch then runs every
 * expert a decoded token chose (expertSwigluRouted, expertDownRouted).
 */
export interface ExpertWeights {
  w1: GpuTensor; // [I, Hs] gate proj (stacked: [E·I, Hs])
  w3: GpuTensor; // [I, Hs] up proj
  w2: GpuTensor; // [Hs, I] down proj (stacked: [E·Hs, I])
  stack: ExpertStack;
}

export interface LayerWeights {
  kind: AttnKind;
  inputNorm: GpuTensor;
  postNorm: GpuTensor;
  /** lightning: qkv_proj, output_gate, norm, out_proj; softmax: qkv (q_proj, k_proj and v_proj stacked), o_proj */
  attn: Record<string, GpuTensor>;
  router: GpuTensor;
  experts: ExpertWeights[];
  shared: { gate: GpuTensor; up: GpuTensor; down: GpuTensor; coefficient: GpuTensor } | null;
}

/** A model part's weights (src/shard): the embedding with the first layer, the head with the last. */
export interface ModelWeights {
  embed: GpuTensor | null;
  lmHead: GpuTensor | null; // the embedding itself when tied
  norm: GpuTensor | null;
  /** Indexed by layer; only the part's layers are present. */
  layers: (LayerWeights | undefined)[];
}

/** Progress of a model load; the GPU upload reports 'upload', the engine around it the other phases. */
export interface LoadProgress {
  phase: 'fetch' | 'store' | 'upload' | 'compile';
  loaded: number;
  total: number;
  /** The file or tensor being worked on. */
  item?: string;
}

/**
 * Uploads every tensor the config needs, in its stored dtype or (`quantize`, for the tensors
 * isQuantized names) quantized. With `streamExperts` the experts stay in
 * the checkpoint (an ExpertCache brings them in on demand) and `layers[i].experts` is empty.
 */
export async function uploadWeights(
  gpu: Gpu,
  ckpt: Checkpoint,
  opts: { streamExperts?: boolean; quantize?: QuantFormat; layers?: LayerRange; onProgress?: (p: LoadProgress) => void } = {},
): Promise<ModelWeights> {
  const c = ckpt.config;
  const { from, to } = opts.layers ?? { from: 0, to: c.numLayers };
  const isExpert = (name: string) => name.includes('.block_sparse_moe.experts.');
  const tied = c.tieWordEmbeddings && !ckpt.tensors.has('lm_head.weight');
  const wanted = (name: string) => {
    const layer = /^model\.layers\.(\d+)\./.exec(name);
    if (layer) return Number(layer[1]) >= from && Number(layer[1]) < to && !(opts.streamExperts && isExpert(name));
    if (name === 'model.embed_tokens.weight') return from === 0 || (tied && to === c.numLayers);
    return to === c.numLayers;
  };
  const total = [...ckpt.tensors.values()].filter((t) => wanted(t.name)).reduce((s, t) => s + t.byteLength, 0);
  let loaded = 0;
  const uploaded: GpuTensor[] = [];
  const matrixOf = (name: string) => storedMatrix(ckpt, name, opts.quantize && isQuantized(name) ? opts.quantize : undefined);
  const done = (t: GpuTensor, bytes: number) => {
    uploaded.push(t);
    loaded += bytes;
    opts.onProgress?.({ phase: 'upload', loaded, total, item: t.name });
    return t;
  };
  const get = async (name: string): Promise<GpuTensor> => {
    const info = ckpt.tensors.get(name);
    if (ckpt.quantized.has(name) || info?.shape.length === 2) {
      const m = matrixOf(name);
      return done(await uploadStoredMatrix(gpu, m), m.bytes);
    }
    if (!info) throw new Error(`${ckpt.name}: missing tensor ${name}`); // checkTensors has already named it
    return done(await uploadTensor(gpu, name, info.dtype.toLowerCase() as StoredWeightDType, info.shape, (o, n) => ckpt.read(name, o, n)), info.byteLength);
  };
  // Where norms fold into their readers (foldingNorms), a norm's weight is widened to f32 as it loads
  // (exactly): every reader multiplies each activation by it, and a plain f32 load keeps their shaders small.
  const getNorm = async (name: string): Promise<GpuTensor> => {
    const info = ckpt.tensors.get(name);
    const dtype = info?.dtype;
    if (!foldingNorms(gpu) || !info || (dtype !== 'F16' && dtype !== 'BF16') || info.shape.length !== 1) return get(name);
    const values = decode(await ckpt.read(name, 0, info.byteLength), dtype);
    return done(await uploadTensor(gpu, name, 'f32', info.shape, async (o, n) => new Uint8Array(values.buffer, o, n)), info.byteLength);
  };
  // A matrix in one part: one storage binding, as the expert kernels need (the 256 bytes: a quantized image's padding).
  const fitsOnePart = (m: StoredMatrix) => imageLayout(m.format, ...m.shape).bytes + 256 <= gpu.maxTensorPartBytes;
  // Softmax attention's q, k and v read the same input: one matrix, one dispatch.
  const getStacked = async (name: string, names: string[]): Promise<GpuTensor> => {
    const m = stackMatrices(name, names.map(matrixOf));
    return done(await uploadStoredMatrix(gpu, m), m.bytes);
  };
  try {
    const last = to === c.numLayers;
    const embed = from === 0 || (tied && last) ? await get('model.embed_tokens.weight') : null;
    const layers: (LayerWeights | undefined)[] = new Array(c.numLayers).fill(undefined);
    for (let i = from; i < to; i++) {
      const p = `model.layers.${i}.`;
      const kind = c.layerKinds[i];
      const names = kind === 'lightning' ? ['qkv_proj', 'output_gate', 'norm', 'out_proj'] : ['o_proj'];
      const attn: Record<string, GpuTensor> = {};
      for (const n of names) attn[n] = await get(`${p}self_attn.${n}.weight`);
      if (kind === 'softmax') attn.qkv = await getStacked(`${p}self_attn.qkv (stacked)`, ['q_proj', 'k_proj', 'v_proj'].map((n) => `${p}self_attn.${n}.weight`));
      const experts: ExpertWeights[] = [];
      const E = opts.streamExperts ? 0 : c.numExperts;
      const expertNames = Array.from({ length: E }, (_, e) => expertTensorNames(i, e));
      const stacks = E > 1 ? stackExperts(p, expertNames.map((names) => names.map(matrixOf))) : null;
      if (stacks?.every(fitsOnePart)) {
        const stacked: GpuTensor[] = [];
        for (const m of stacks) stacked.push(done(await uploadStoredMatrix(gpu, m), m.bytes));
        const [w1, w3, w2] = stacked;
        for (let e = 0; e < E; e++) experts.push({ w1, w3, w2, stack: { index: e, count: E } });
      } else
        for (const [w1, w3, w2] of expertNames) experts.push({ w1: await get(w1), w3: await get(w3), w2: await get(w2), stack: ALONE });
      const shared =
        c.sharedIntermediateSize > 0
          ? {
              gate: await get(`${p}shared_mlp.gate_proj.weight`),
              up: await get(`${p}shared_mlp.up_proj.weight`),
              down: await get(`${p}shared_mlp.down_proj.weight`),
              coefficient: await get(`${p}coefficient.weight`),
            }
          : null;
      layers[i] = {
        kind,
        inputNorm: await getNorm(`${p}input_layernorm.weight`),
        postNorm: await getNorm(`${p}post_attention_layernorm.weight`),
        attn,
        router: await get(`${p}block_sparse_moe.gate.weight`),
        experts,
        shared,
      };
    }
    const norm = last ? await getNorm('model.norm.weight') : null;
    const lmHead = !last ? null : tied ? embed : await get('lm_head.weight');
    return { embed: from === 0 ? embed : null, lmHead, norm, layers };
  } catch (e) {
    uploaded.forEach(destroyTensor); // a failed load holds no GPU memory
    throw e;
  }
}

/**
 * A layer's experts stacked, w1, w3 and w2 each in one matrix; null where they are not all of one
 * format (each expert is then uploaded on its own, in its own format, rather than widened).
 */
function stackExperts(prefix: string, experts: StoredMatrix[][]): StoredMatrix[] | null {
  const [first] = experts;
  const alike = first[0].format === first[1].format && experts.every((x) => x.every((m, i) => m.format === first[i].format && m.stored === first[i].stored));
  return alike ? [0, 1, 2].map((m) => stackMatrices(`${prefix}block_sparse_moe.experts.w${[1, 3, 2][m]} (stacked)`, experts.map((x) => x[m]))) : null;
}

export function destroyWeights(w: ModelWeights): void {
  const all = new Set<GpuTensor>([w.embed, w.lmHead, w.norm].filter((t) => t !== null));
  for (const l of w.layers) {
    if (!l) continue;
    [l.inputNorm, l.postNorm, l.router, ...Object.values(l.attn)].forEach((t) => all.add(t));
    for (const e of l.experts) [e.w1, e.w3, e.w2].forEach((t) => all.add(t));
    if (l.shared) Object.values(l.shared).forEach((t) => all.add(t));
  }
  all.forEach(destroyTensor);
}

