/**
 * Next-token sampling on the CPU from a row of logits.
 *
 * Processing order follows HF transformers / llama.cpp: logit bias → repetition penalty →
 * presence/frequency penalties → (temperature 0: argmax) → temperature → top-k → top-p → min-p → draw.
 */

export interface SamplingOptions {
  /** 0 means greedy (argmax). */
  temperature?: number;
  /** Nucleus sampling; 1 = off. */
  topP?: number;
  /** 0 = off. */
  topK?: number;
  /** Drop tokens whose probability is below minP × the most likely token's; 0 = off. */
  minP?: number;
  /** HF/CTRL-style: >1 discourages tokens already in the history; 1 = off. */
  repetitionPenalty?: number;
  /** OpenAI semantics: subtracted once from every token present in the history. */
  presencePenalty?: number;
  /** OpenAI semantics: subtracted once per occurrence in the history. */
  frequencyPenalty?: number;
  /** Added to the logit of a token id; -Infinity (or a large negative value) bans it, +100 all but forces it. */
  logitBias?: Record<number, number>;
  /** Same seed ⇒ same sequence of draws; none ⇒ Math.random. */
  seed?: number;
}

export type ResolvedSampling = Required<Omit<SamplingOptions, 'seed' | 'logitBias'>> & Pick<SamplingOptions, 'seed' | 'logitBias'>;

/** MiniMax-M1's recommended settings (model card: temperature 1.0, top_p 0.95); the rest neutral. */
const DEFAULTS: Required<Omit<SamplingOptions, 'seed' | 'logitBias'>> = {
  temperature: 1.0,
  topP: 0.95,
  topK: 0,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
};

function num(obj: Record<string, unknown>, key: string): number | undefined {
  const v = obj[key];
  return typeof v === 'number' ? v : undefined;
}

/**
 * Fills missing options, per field: the user's value, else generation_config.json's, else MiniMax-M1's
 * recommendation. `do_sample: false` in generation_config.json means greedy unless the user sets a temperature.
 */
export function resolveSampling(user: SamplingOptions, generationConfig: unknown): ResolvedSampling {
  const gc = typeof generationConfig === 'object' && generationConfig !== null ? (generationConfig as Record<string, unknown>) : {};
  const fromConfig: SamplingOptions = {
    temperature: gc.do_sample === false ? 0 : num(gc, 'temperature'),
    topP: num(gc, 'top_p'),
    topK: num(gc, 'top_k'),
    minP: num(gc, 'min_p'),
    repetitionPenalty: num(gc, 'repetition_penalty'),
  };
  const pick = <K extends keyof typeof DEFAULTS>(k: K): number => user[k] ?? fromConfig[k] ?? DEFAULTS[k];
  const out: ResolvedSampling = {
    temperature: pick('temperature'),
    topP: pick('topP'),
    topK: pick('topK'),
    minP: pick('minP'),
    repetitionPenalty: pick('repetitionPenalty'),
    presencePenalty: pick('presencePenalty'),
    frequencyPenalty: pick('frequencyPenalty'),
  };
  if (user.seed !== undefined) out.seed = user.seed;
  if (user.logitBias !== undefined) out.logitBias = user.logitBias;
  validate(out);
  return out;
}

function validate(o: ResolvedSampling, vocabSize?: number): void {
  const finite = (v: number) => typeof v === 'number' && Number.isFinite(v);
  if (!finite(o.temperature) || o.temperature < 0) throw new RangeError(`temperature must be ≥ 0 (got ${o.temperature})`);
  if (!finite(o.topP) || o.topP <= 0 || o.topP > 1) throw new RangeError(`topP must be in (0, 1] (got ${o.topP})`);
  if (!Number.isSafeInteger(o.topK) || o.topK < 0) throw new RangeError(`topK must be an integer ≥ 0 (got ${o.topK})`);
  if (!finite(o.minP) || o.minP < 0 || o.minP > 1) throw new RangeError(`minP must be in [0, 1] (got ${o.minP})`);
  if (!finite(o.repetitionPenalty) || o.repetitionPenalty <= 0) {
    throw new RangeError(`repetitionPenalty must be > 0 (got ${o.repetitionPenalty})`);
  }
  if (!finite(o.presencePenalty)) throw new RangeError(`presencePenalty must be a finite number (got ${o.presencePenalty})`);
  if (!finite(o.frequencyPenalty)) throw new RangeError(`frequencyPenalty must be a finite number (got ${o.frequencyPenalty})`);
  if (o.seed !== undefined && !finite(o.seed)) throw new RangeError(`seed must be a finite number (got ${o.seed})`);
  if (o.logitBias !== undefined) {
    if (typeof o.logitBias !== 'object' || o.logitBias === null) throw new TypeError('logitBias must be an object of token id → bias');
    for (const [k, v] of Object.entries(o.logitBias)) {
      const id = Number(k);
      if (!Number.isSafeInteger(id) || id < 0 || (vocabSize !== undefined && id >= vocabSize)) {
        throw new RangeError(`logitBias key ${JSON.stringify(k)} is not a token id${vocabSize !== undefined ? ` in [0, ${vocabSize})` : ''}`);
      }
      // +Infinity would make softmax undefined; +100 forces a token just as well.
      if (typeof v !== 'number' || !(Number.isFinite(v) || v === -Infinity)) {
        throw new TypeError(`logitBias[${k}] must be a finite number or -Infinity (got ${String(v)})`);
      }
    }
  }
}

/** sfc32 seeded through splitmix32: fast, good enough for sampling, identical in every JS engine. */
function seededRandom(seed: number): () => number {
  let s = (Math.floor(seed) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  const next32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // 53 random bits, so that very unlikely tokens still get their share.
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

/** First index of the largest value (NaN never wins; all -Infinity gives 0). */
function argmax(x: Float32Array, n: number): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[i] > bv) {
      bv = x[i];
      best = i;
    }
  }
  return best;
}

/** The k best ids, best first, via a size-k min-heap: O(V log k) instead of sorting the vocabulary. */
function topKIds(x: Float32Array, n: number, k: number): Int32Array {
  const heap = new Int32Array(k);
  let size = 0;
  // "Worse" = smaller value, or equal value and larger id (ids arrive in increasing order).
  const worse = (i: number, j: number) => x[i] < x[j] || (x[i] === x[j] && i > j);
  const siftDown = (pos: number) => {
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= size) return;
      const r = l + 1;
      const m = r < size && worse(heap[r], heap[l]) ? r : l;
      if (!worse(heap[m], heap[pos])) return;
      [heap[m], heap[pos]] = [heap[pos], heap[m]];
      pos = m;
    }
  };
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (!(v > -Infinity)) continue; // banned or NaN: zero probability
    if (size < k) {
      let pos = size++;
      heap[pos] = i;
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!worse(heap[pos], heap[parent])) break;
        [heap[pos], heap[parent]] = [heap[parent], heap[pos]];
        pos = parent;
      }
    } else if (v > x[heap[0]]) {
      heap[0] = i;
      siftDown(0);
    }
  }
  // Ties broken by id, so results never depend on the sort's stability.
  return heap.subarray(0, size).sort((i, j) => x[j] - x[i] || i - j);
}

/** Smallest prefix of the best-first `sorted` ids whose renormalised probability reaches p. */
function nucleusPrefix(x: Float32Array, sorted: Int32Array, p: number): Int32Array {
  if (sorted.length === 0) return sorted;
  const m = x[sorted[0]];
  let z = 0;
  for (const i of sorted) z += Math.exp(x[i] - m);
  const target = p * z;
  let cum = 0;
  for (let r = 0; r < sorted.length; r++) {
    cum += Math.exp(x[sorted[r]] - m);
    if (cum >= target) return sorted.subarray(0, r + 1);
  }
  return sorted;
}

const NUCLEUS_BINS = 2048;
/** Logits further than this below the max share one bin; their mass is tiny but still counted. */
const NUCLEUS_SPAN = 40;

/**
 * Top-p over the whole vocabulary in O(V): histogram the probability mass by distance below the max,
 * find the bin where the cumulative mass reaches p, and sort only that bin's members. Writes the kept
 * ids, in no particular order, to the front of `out`.
 */
export function nucleusIds(x: Float32Array, n: number, p: number, out: Int32Array = new Int32Array(n)): Int32Array {
  const m = x[argmax(x, n)];
  const scale = NUCLEUS_BINS / NUCLEUS_SPAN;
  const binOf = (v: number) => Math.min(NUCLEUS_BINS, Math.floor((m - v) * scale));
  const mass = new Float64Array(NUCLEUS_BINS + 1);
  let z = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp(x[i] - m);
    if (!(w > 0)) continue; // banned or NaN
    mass[binOf(x[i])] += w;
    z += w;
  }
  const target = p * z;
  let cum = 0;
  let edge = 0;
  while (edge < NUCLEUS_BINS && cum + mass[edge] < target) cum += mass[edge++];
  let k = 0;
  const boundary: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!(x[i] > -Infinity)) continue;
    const b = binOf(x[i]);
    if (b < edge) out[k++] = i;
    else if (b === edge) boundary.push(i);
  }
  // Within the boundary bin, take best-first (ties by id) until the mass reaches p. A bin of equal
  // values (a flat tail) is already in that order: skip sorting what may be most of the vocabulary.
  if (boundary.some((i) => x[i] !== x[boundary[0]])) boundary.sort((i, j) => x[j] - x[i] || i - j);
  for (const i of boundary) {
    out[k++] = i;
    cum += Math.exp(x[i] - m);
    if (cum >= target) break;
  }
  return out.subarray(0, k);
}

export class Sampler {
  /** True when every draw is the argmax of the processed logits (no randomness). */
  readonly greedy: boolean;
  readonly options: ResolvedSampling;
  private readonly vocabSize: number;
  private readonly random: () => number;
  private readonly bias: [number, number][];
  // Scratch reused across calls: the processed logits, candidate ids, and every id in order.
  private readonly work: Float32Array;
  private readonly ids: Int32Array;
  private readonly all: Int32Array;

  constructor(opts: SamplingOptions, vocabSize: number) {
    if (!Number.isSafeInteger(vocabSize) || vocabSize <= 0) throw new RangeError(`vocabSize must be a positive integer (got ${vocabSize})`);
    this.options = resolveSampling(opts, null);
    validate(this.options, vocabSize);
    this.vocabSize = vocabSize;
    this.greedy = this.options.temperature === 0 || this.options.topK === 1;
    this.random = this.options.seed === undefined ? Math.random : seededRandom(this.options.seed);
    this.bias = Object.entries(this.options.logitBias ?? {}).map(([k, v]) => [Number(k), v]);
    this.work = new Float32Array(vocabSize);
    this.ids = new Int32Array(vocabSize);
    this.all = Int32Array.from({ length: vocabSize }, (_, i) => i);
  }

  /**
   * `logits` may be longer than the vocabulary (padded rows); extra entries are ignored.
   * `history`: the ids the penalties look at (HF counts prompt + generated ids; OpenAI only generated ones).
   */
  sample(logits: Float32Array, history: ArrayLike<number>): number {
    const n = this.vocabSize;
    if (logits.length < n) throw new RangeError(`logits has ${logits.length} entries, fewer than the vocabulary's ${n}`);
    const x = this.work;
    x.set(logits.subarray(0, n));
    this.applyBiasAndPenalties(x, history);

    const o = this.options;
    if (o.temperature === 0) return argmax(x, n);
    if (o.temperature !== 1) {
      const inv = 1 / o.temperature;
      for (let i = 0; i < n; i++) x[i] *= inv;
    }

    // Candidate ids, in any order after top-k.
    let cand: Int32Array = this.all;
    if (o.topK > 0 && o.topK < n) {
      cand = topKIds(x, n, o.topK);
      if (o.topP < 1) cand = nucleusPrefix(x, cand, o.topP);
    } else if (o.topP < 1) {
      cand = nucleusIds(x, n, o.topP, this.ids);
    }
    if (o.minP > 0) {
      // p_i < minP·p_max  ⇔  logit_i < logit_max + ln(minP): no softmax needed.
      let m = -Infinity;
      for (const i of cand) if (x[i] > m) m = x[i];
      const cut = m + Math.log(o.minP);
      let k = 0;
      // In place is safe: the k-th write never overtakes the r-th read.
      for (let r = 0; r < cand.length; r++) if (x[cand[r]] >= cut) this.ids[k++] = cand[r];
      cand = this.ids.subarray(0, k);
    }
    return this.draw(x, cand);
  }

  private applyBiasAndPenalties(x: Float32Array, history: ArrayLike<number>): void {
    for (const [id, b] of this.bias) x[id] += b;
    const o = this.options;
    if (o.repetitionPenalty === 1 && o.presencePenalty === 0 && o.frequencyPenalty === 0) return;
    const counts = new Map<number, number>();
    for (let t = 0; t < history.length; t++) {
      const id = history[t];
      if (id >= 0 && id < this.vocabSize) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const [id, c] of counts) {
      let v = x[id];
      if (o.repetitionPenalty !== 1) v = v > 0 ? v / o.repetitionPenalty : v * o.repetitionPenalty;
      x[id] = v - o.presencePenalty - o.frequencyPenalty * c;
    }
  }

  /** Inverse-CDF draw over the candidates, softmax-weighted; overwrites their entries of x with weights. */
  private draw(x: Float32Array, cand: Int32Array): number {
    let m = -Infinity;
    for (const i of cand) if (x[i] > m) m = x[i];
    if (m === -Infinity) return argmax(x, this.vocabSize); // everything banned: fall back rather than fail
    let z = 0;
    for (const i of cand) {
      const w = Math.exp(x[i] - m) || 0; // NaN counts as banned
      x[i] = w;
      z += w;
    }
    const u = this.random() * z;
    let acc = 0;
    let last = -1;
    for (const i of cand) {
      if (x[i] === 0) continue;
      last = i;
      acc += x[i];
      if (u < acc) return i;
    }
    return last; // rounding left u at the very top of the range
  }
}
