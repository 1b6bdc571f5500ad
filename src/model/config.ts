/**
 * MiniMax-Text-01 / MiniMax-M1 config.json → normalised ModelConfig.
 * Semantics follow `normalize_config` in shared/spec/minimax_ref.py (MODEL.md §2); it accepts the
 * original remote-code names and the transformers-port names. Validation is stricter than the
 * reference: anything that would make the runtime compute garbage or allocate absurdly is refused.
 */

export type AttnKind = 'lightning' | 'softmax';

/** Layers from..to-1 of a model: the part one executor runs (src/shard). */
export interface LayerRange {
  from: number;
  to: number;
}

/** Checks that `r` is a non-empty range of c's layers; names the option `what`. */
export function checkLayerRange(r: LayerRange, numLayers: number, what = 'layers'): LayerRange {
  if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 0 || r.to > numLayers || r.from >= r.to)
    throw new RangeError(`${what} ${r.from}-${r.to - 1} is not a range of the model's layers 0-${numLayers - 1}`);
  return r;
}

export interface ModelConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rotaryDim: number;
  ropeTheta: number;
  layerKinds: AttnKind[];
  linearAlpha: number;
  linearBeta: number;
  fullAlpha: number;
  fullBeta: number;
  mlpAlpha: number;
  mlpBeta: number;
  postnorm: boolean;
  rmsNormEps: number;
  intermediateSize: number;
  numExperts: number;
  expertsPerToken: number;
  sharedIntermediateSize: number;
  tieWordEmbeddings: boolean;
  /** Optional `block_size` (transformers) / `block` (vLLM); null if absent. Does not change results. */
  blockSize: number | null;
  /** `max_position_embeddings`: the longest sequence the model was made for; null if absent. */
  maxPositions: number | null;
  modelType: string | null;
  /** A pre-quantized checkpoint's format (`quantization_config` written by `lightmoe quantize`); null if none. */
  quantization: 'int8' | 'int4' | null;
}

/** `quantization_config` of a checkpoint written by `lightmoe quantize` (README: Quantized weights). */
export const QUANT_METHOD = 'lightmoe';

export class ConfigError extends Error {
  readonly file: string;
  /** The offending config key, e.g. `attn_type_list[3]`; empty for the top level. */
  readonly field: string;
  constructor(file: string, field: string, detail: string) {
    super(field ? `${file}: field "${field}": ${detail}` : `${file}: ${detail}`);
    this.name = 'ConfigError';
    this.file = file;
    this.field = field;
  }
}

const MAX_DIM = 2 ** 31;
const MAX_MATRIX = 2 ** 40;

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (!isObject(json)) throw new ConfigError(file, '', `the top level must be a JSON object, got ${Array.isArray(json) ? 'an array' : show(json)}`);
  const cfg = json;
  const fail = (field: string, detail: string): never => {
    throw new ConfigError(file, field, detail);
  };
  // Absent and null mean the same thing, as in the reference's cfg.get(...) checks.
  const has = (k: string) => cfg[k] !== undefined && cfg[k] !== null;

  const posInt = (field: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(field, `must be a positive integer, got ${show(v)}`);
    if ((v as number) > MAX_DIM) fail(field, `${v} is absurdly large (limit 2^31)`);
    return v as number;
  };
  const required = (field: string) => (has(field) ? posInt(field, cfg[field]) : fail(field, 'is required but missing'));
  const posFinite = (field: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(field, `must be a positive finite number, got ${show(v)}`);
    return v as number;
  };
  const bool = (field: string, dflt: boolean): boolean => {
    if (!has(field)) return dflt;
    if (typeof cfg[field] !== 'boolean') fail(field, `must be true or false, got ${show(cfg[field])}`);
    return cfg[field] as boolean;
  };

  const vocabSize = required('vocab_size');
  const hiddenSize = required('hidden_size');
  const intermediateSize = required('intermediate_size');
  const numLayers = required('num_hidden_layers');
  const numHeads = required('num_attention_heads');
  const numKvHeads = has('num_key_value_heads') ? posInt('num_key_value_heads', cfg.num_key_value_heads) : numHeads;
  if (numHeads % numKvHeads !== 0) {
    fail('num_key_value_heads', `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }

  // The reference's `int(hd) if hd else H // nh`: 0 counts as absent too.
  let headDim: number;
  if (has('head_dim') && cfg.head_dim !== 0) headDim = posInt('head_dim', cfg.head_dim);
  else if (hiddenSize % numHeads !== 0) {
    return fail('head_dim', `absent, and hidden_size ${hiddenSize} / num_attention_heads ${numHeads} is not an integer`);
  } else headDim = hiddenSize / numHeads;
  if (3 * numHeads * headDim > MAX_DIM) fail('head_dim', `3 * num_attention_heads * head_dim = ${3 * numHeads * headDim} is absurdly large`);

  let ropeParams: Record<string, unknown> = {};
  if (has('rope_parameters')) {
    if (!isObject(cfg.rope_parameters)) fail('rope_parameters', `must be an object, got ${show(cfg.rope_parameters)}`);
    ropeParams = cfg.rope_parameters as Record<string, unknown>;
  }
  const fromRope = (k: string): [string, unknown] | null =>
    has(k) ? [k, cfg[k]] : ropeParams[k] !== undefined && ropeParams[k] !== null ? [`rope_parameters.${k}`, ropeParams[k]] : null;

  const thetaSrc = fromRope('rope_theta');
  const ropeTheta = thetaSrc ? posFinite(thetaSrc[0], thetaSrc[1]) : 1e6;

  let rotaryDim: number;
  let rotaryField = 'rotary_dim';
  if (has('rotary_dim')) {
    const v = cfg.rotary_dim;
    if (typeof v !== 'number' || !Number.isInteger(v)) fail('rotary_dim', `must be an integer, got ${show(v)}`);
    rotaryDim = v as number;
  } else {
    const prfSrc = fromRope('partial_rotary_factor');
    const prf = prfSrc ? posFinite(prfSrc[0], prfSrc[1]) : 1;
    if (prfSrc) rotaryField = prfSrc[0];
    rotaryDim = Math.trunc(headDim * prf); // as int(head_dim * prf) in the reference
  }
  if (rotaryDim % 2 !== 0 || rotaryDim > headDim || rotaryDim <= 0) {
    fail(rotaryField, `rotary dim ${rotaryDim} must be even, positive and <= head_dim ${headDim}`);
  }

  // Layer pattern: 0 = lightning (linear) attention, 1 = softmax (full) attention.
  const patternField = ['attn_type_list', 'layer_types', 'decoder_attention_types'].find(has);
  if (!patternField) return fail('attn_type_list', 'is required but missing (no attn_type_list / layer_types either)');
  const pattern = cfg[patternField];
  if (!Array.isArray(pattern)) return fail(patternField, `must be an array, got ${show(pattern)}`);
  if (pattern.length < numLayers) fail(patternField, `has ${pattern.length} entries, fewer than num_hidden_layers ${numLayers}`);
  const layerKinds = pattern.slice(0, numLayers).map((t: unknown, i): AttnKind => {
    if (patternField === 'layer_types') {
      if (t === 'linear_attention') return 'lightning';
      if (t === 'full_attention') return 'softmax';
      return fail(`layer_types[${i}]`, `must be "linear_attention" or "full_attention", got ${show(t)}`);
    }
    if (t === 0) return 'lightning';
    if (t === 1) return 'softmax';
    return fail(`${patternField}[${i}]`, `must be 0 (lightning) or 1 (softmax), got ${show(t)}`);
  });

  const factor = (orig: string, port: string): number => {
    const k = has(orig) ? orig : has(port) ? port : null;
    if (!k) return 1;
    if (typeof cfg[k] !== 'number' || !Number.isFinite(cfg[k])) fail(k, `must be a finite number, got ${show(cfg[k])}`);
    return cfg[k] as number;
  };

  // Remote code defaults to pre-norm; the transformers port (model_type "minimax") is always post-norm.
  const postnorm = 'postnorm' in cfg ? bool('postnorm', false) : cfg.model_type === 'minimax';

  const rmsNormEps = has('rms_norm_eps') ? posFinite('rms_norm_eps', cfg.rms_norm_eps) : 1e-5;
  const numExperts = required('num_local_experts');
  const expertsPerToken = has('num_experts_per_tok') ? posInt('num_experts_per_tok', cfg.num_experts_per_tok) : 2;
  if (expertsPerToken > numExperts) fail('num_experts_per_tok', `${expertsPerToken} is more than num_local_experts ${numExperts}`);

  let sharedIntermediateSize = 0;
  if (has('shared_intermediate_size') && cfg.shared_intermediate_size !== 0) {
    sharedIntermediateSize = posInt('shared_intermediate_size', cfg.shared_intermediate_size);
  }
  if (sharedIntermediateSize > 0 && has('shared_moe_mode') && cfg.shared_moe_mode !== 'sigmoid') {
    fail('shared_moe_mode', `only "sigmoid" is supported, got ${show(cfg.shared_moe_mode)}`);
  }

  if (has('hidden_act') && cfg.hidden_act !== 'silu' && cfg.hidden_act !== 'swish') {
    fail('hidden_act', `only "silu" is supported, got ${show(cfg.hidden_act)}`);
  }

  const blockField = ['block_size', 'block'].find(has);
  const blockSize = blockField ? posInt(blockField, cfg[blockField]) : null;
  const maxPositions = has('max_position_embeddings') ? posInt('max_position_embeddings', cfg.max_position_embeddings) : null;

  let modelType: string | null = null;
  if (has('model_type')) {
    if (typeof cfg.model_type !== 'string') fail('model_type', `must be a string, got ${show(cfg.model_type)}`);
    modelType = cfg.model_type as string;
  }

  let quantization: 'int8' | 'int4' | null = null;
  if (has('quantization_config')) {
    const q = cfg.quantization_config;
    if (!isObject(q)) fail('quantization_config', `must be an object, got ${show(q)}`);
    const qc = q as Record<string, unknown>;
    if (qc.quant_method !== QUANT_METHOD) fail('quantization_config.quant_method', `${show(qc.quant_method)} is not supported: this runtime loads "${QUANT_METHOD}" (written by lightmoe quantize), or unquantized weights`);
    if (qc.bits !== 8 && qc.bits !== 4) fail('quantization_config.bits', `must be 8 or 4, got ${show(qc.bits)}`);
    const block = qc.bits === 8 ? 32 : 16;
    if (qc.block_size !== block) fail('quantization_config.block_size', `must be ${block} for ${qc.bits} bits, got ${show(qc.block_size)}`);
    quantization = qc.bits === 8 ? 'int8' : 'int4';
  }

  for (const [field, n] of [
    ['vocab_size', vocabSize],
    ['intermediate_size', intermediateSize],
    ['head_dim', 3 * numHeads * headDim],
    ['shared_intermediate_size', sharedIntermediateSize],
    ['num_local_experts', numExperts],
  ] as const) {
    if (n * hiddenSize > MAX_MATRIX) fail(field, `a ${n} x ${hiddenSize} matrix is absurdly large (limit 2^40 elements)`);
  }

  return {
    vocabSize,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rotaryDim,
    ropeTheta,
    layerKinds,
    linearAlpha: factor('layernorm_linear_attention_alpha', 'linear_attn_alpha_factor'),
    linearBeta: factor('layernorm_linear_attention_beta', 'linear_attn_beta_factor'),
    fullAlpha: factor('layernorm_full_attention_alpha', 'full_attn_alpha_factor'),
    fullBeta: factor('layernorm_full_attention_beta', 'full_attn_beta_factor'),
    mlpAlpha: factor('layernorm_mlp_alpha', 'mlp_alpha_factor'),
    mlpBeta: factor('layernorm_mlp_beta', 'mlp_beta_factor'),
    postnorm,
    rmsNormEps,
    intermediateSize,
    numExperts,
    expertsPerToken,
    sharedIntermediateSize,
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    blockSize,
    maxPositions,
    modelType,
    quantization,
  };
}
