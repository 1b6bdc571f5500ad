import { openCheckpoint, type Checkpoint } from '../model/checkpoint';
import { checkLayerRange, type LayerRange, type ModelConfig } from '../model/config';
import { lightningDecays } from '../model/decay';
import { isQuantFormat, type QuantFormat } from '../model/quantize';
import type { ModelSource } from '../model/source';
import { ExpertCache, type EvictionPolicy } from '../store/expertCache';
import { argmax } from '../gpu/argmax';
import { attention, kvRowBytes, MAX_HEAD_DIM, type KvPage } from '../gpu/attention';
import type { GpuTensor } from '../gpu/tensor';
import { embed } from '../gpu/embed';
import { expertDown, expertDownRouted } from '../gpu/expertDown';
import { expertSwiglu, expertSwigluRouted, type ExpertRows } from '../gpu/expertSwiglu';
import { Gpu, type GpuOptions, type KvFormat, type Recorder } from '../gpu/gpu';
import { lightningDecode } from '../gpu/lightningDecode';
import { lightningOutput } from '../gpu/lightningOutput';
import { decayTable, lightningPrefill } from '../gpu/lightningPrefill';
import { matmul } from '../gpu/matmul';
import { moePlan } from '../gpu/moePlan';
import { residual } from '../gpu/residual';
import { foldsNorm, rmsnorm, type FoldedNorm } from '../gpu/rmsnorm';
import { normedSwiglu } from '../gpu/normedSwiglu';
import { ropeAppend, ropeTable } from '../gpu/ropeAppend';
import { router } from '../gpu/router';
import { sharedExpertMix } from '../gpu/sharedExpertMix';
import { destroyWeights, uploadWeights, type ExpertWeights, type LayerWeights, type LoadProgress, type ModelWeights } from './weights';
import { Workspace } from './workspace';
import { chainsInTurn, checkChains } from './languageModel';
import type { ModelStats } from './stats';

/** Eps of the lightning output norm: hard-wired upstream, independent of rms_norm_eps (MODEL.md §5.3). */
const LIGHTNING_NORM_EPS = 1e-6;

export interface ModelOptions extends GpuOptions {
  /** Lightning block size of the prefill kernel; any value gives the same result (MODEL.md §4.3.4). */
  lightningBlock?: number;
  /** Most tokens run through the layers at once; longer prompts are prefilled in chunks. */
  prefillChunk?: number;
  /** Tokens a KV cache page holds (default: pages of about 8 MiB, see kvPageTokens). */
  kvPageTokens?: number;
  onProgress?: (p: LoadProgress) => void;
  /**
   * Stream experts through a GPU cache holding this fraction of each layer's experts (at least top_k);
   * absent: every expert is uploaded at load.
   */
  expertBudget?: number;
  /**
   * With expertBudget: predict experts and start loading them early. 'layer' (or true): each layer's
   * router on its own input, submitted ahead of its attention; 'next': the next layer's router on this
   * layer's MoE input, read back with this layer's routing (no extra GPU round trip).
   */
  prefetch?: boolean | 'layer' | 'next';
  evictionPolicy?: EvictionPolicy;
  /**
   * Quantize the large matrices on load (src/model/quantize.ts: blocks of 32, int8 symmetric, int4 with
   * a minimum); norms and router gates keep their stored format.
   */
  quantize?: QuantFormat;
  /**
   * Load only these layers (a part of the model for one executor, src/shard): the embedding comes with
   * the first layer, the final norm and head with the last. Default: all.
   */
  layers?: LayerRange;
}

export type LogitsWanted = 'all' | 'last' | 'none';

/**
 * What a model part is fed: token ids (a part holding the first layer), or the residual stream
 * [n, hidden] row-major that the part before it returned (forward(…, 'hidden')).
 */
export type PartInput = ArrayLike<number> | { hidden: Float32Array };

/** A softmax layer's KV cache: pages of pageTokens tokens, added as the sequence grows (never copied). */
interface KvCache {
  pages: KvPage[];
}

/**
 * Tokens of a KV page: at most 8 MiB of keys (and as much of values) a page and a layer, a power of two
 * from 16 to 16384 tokens (MiniMax-M1: 2048 in f32, 4096 in f16), no more than max_position_embeddings
 * needs, within one storage binding. Larger pages mean fewer attention dispatches a token at long contexts; smaller
 * ones waste less at short ones.
 */
export function kvPageTokens(c: ModelConfig, maxBindingBytes: number, format: KvFormat): number {
  const rowBytes = kvRowBytes(c.numKvHeads, c.headDim, format);
  const cap = Math.min(8 << 20, maxBindingBytes);
  let t = 16;
  while (t < 16384 && 2 * t * rowBytes <= cap && (c.maxPositions === null || t < c.maxPositions)) t *= 2;
  return t;
}

/**
 * The state of one sequence in a model's layers: lightning states, KV caches, position. A model holds
 * one and can make more (Model.newSequence): sequences never share caches.
 */
export class Sequence {
  position = 0;
  /** Set when a forward failed half-way: some layers' caches hold tokens others do not. */
  broken = false;
  readonly kv: (KvCache | null)[];

  /** @internal Model.newSequence */
  constructor(
    readonly state: (GPUBuffer | null)[],
    numLayers: number,
  ) {
    this.kv = new Array(numLayers).fill(null);
  }

  destroy(): void {
    for (const b of this.state) b?.destroy();
    for (const kv of this.kv) for (const p of kv?.pages ?? []) p.k.destroy(), p.v.destroy();
    this.kv.fill(null);
  }
}

/**
 * A loaded model (or a part of its layers, `layers`) with its current sequence.
 * `forward` advances the sequence; `reset` starts a new one.
 */
export class Model {
  /** The layers this model runs: all of them unless it was loaded as a part. */
  readonly range: LayerRange;
  /** The tokens of a greedy chain, one u32 slot a step (recordChain). */
  private chainIds: GPUBuffer | null = null;
  private readonly ws: Workspace;
  private readonly decay: (GPUBuffer | null)[];
  private seq: Sequence;
  private readonly sequences = new Set<Sequence>();
  private busy = false;
  private readonly block: number;
  private readonly chunk: number;
  /** Tokens of a KV page. */
  readonly pageTokens: number;
  private readonly prefetch: 'layer' | 'next' | null;

  private constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    /** Present when experts are streamed. */
    readonly experts: ExpertCache | null,
    opts: ModelOptions,
  ) {
    this.prefetch = experts && opts.prefetch ? (opts.prefetch === 'next' ? 'next' : 'layer') : null;
    const c = config;
    this.block = opts.lightningBlock ?? 64;
    this.chunk = Math.min(opts.prefillChunk ?? 256, 65535);
    if (!Number.isInteger(this.block) || this.block < 1) throw new RangeError(`lightningBlock must be a positive integer, got ${this.block}`);
    if (!Number.isInteger(this.chunk) || this.chunk < 1) throw new RangeError(`prefillChunk must be a positive integer, got ${opts.prefillChunk}`);
    this.range = opts.layers ?? { from: 0, to: c.numLayers };
    if (this.hasSoftmax() && c.headDim > MAX_HEAD_DIM) throw new RangeError(`head_dim ${c.headDim}: softmax attention holds at most ${MAX_HEAD_DIM}`);
    this.pageTokens = opts.kvPageTokens ?? kvPageTokens(c, gpu.maxBindingBytes, gpu.choices.kvFormat);
    const rowBytes = kvRowBytes(c.numKvHeads, c.headDim, gpu.choices.kvFormat);
    if (!Number.isInteger(this.pageTokens) || this.pageTokens < 1 || this.pageTokens * rowBytes > gpu.maxBindingBytes)
      throw new RangeError(`kvPageTokens must be a positive integer of at most ${Math.floor(gpu.maxBindingBytes / rowBytes)} (one storage binding), got ${opts.kvPageTokens}`);
    this.ws = new Workspace(gpu, c, this.chunk, this.block);
    this.decay = c.layerKinds.map((k, i) =>
      k === 'lightning' && this.runs(i) ? gpu.upload(decayTable(lightningDecays(i, c.numLayers, c.numHeads), this.block), `decay ${i}`) : null,
    );
    this.seq = this.newSequence();
  }

  /** Most tokens one pass through the layers takes (prefillChunk); longer inputs go in chunks. */
  get chunkTokens(): number {
    return this.chunk;
  }

  /**
   * GPU bytes this model holds: its weights, its scratch (activations for a prefill chunk, attention's
   * splits, decay tables), and each sequence's lightning states and KV pages; `total` counts every
   * buffer its Gpu made (weights streamed in included), `peak` the most it ever held.
   */
  memory(): { weights: number; scratch: number; sequences: { state: number; kv: number }[]; total: number; peak: number } {
    const size = (b: GPUBuffer | null | undefined) => (b ? b.size : 0);
    const tensors = new Set<GpuTensor>();
    const w = this.weights;
    for (const t of [w.embed, w.lmHead, w.norm]) if (t) tensors.add(t);
    for (const l of w.layers) {
      if (!l) continue;
      for (const t of [l.inputNorm, l.postNorm, l.router, ...Object.values(l.attn), ...l.experts.flatMap((e) => [e.w1, e.w3, e.w2]), ...(l.shared ? Object.values(l.shared) : [])]) tensors.add(t);
    }
    const weights = [...tensors].reduce((s, t) => s + t.parts.reduce((a, p) => a + p.buffer.size, 0), 0);
    const sequences = [...this.sequences].map((q) => ({
      state: q.state.reduce((a, b) => a + size(b), 0),
      kv: q.kv.reduce((a, kv) => a + (kv?.pages.reduce((x, p) => x + p.k.size + p.v.size, 0) ?? 0), 0),
    }));
    return { weights, scratch: this.ws.bytes + this.decay.reduce((a, b) => a + size(b), 0) + size(this.chainIds), sequences, total: this.gpu.bytesInUse, peak: this.gpu.peakBytes };
  }

  /** Memory by kind, the expert cache's counters, and where the layers run (`where` names this device). */
  stats(where = 'device 0'): ModelStats {
    const m = this.memory();
    return {
      memory: {
        weights: m.weights,
        expertCache: this.experts?.bytes ?? 0,
        scratch: m.scratch,
        state: m.sequences.reduce((s, q) => s + q.state, 0),
        kv: m.sequences.reduce((s, q) => s + q.kv, 0),
        total: m.total,
        peak: m.peak,
      },
      experts: this.experts?.snapshot() ?? null,
      placement: [{ ...this.range, where }],
    };
  }

  /** The current sequence's position: the tokens it has been fed. */
  get position(): number {
    return this.seq.position;
  }

  /** True when this model runs layer i. */
  private runs(i: number): boolean {
    return i >= this.range.from && i < this.range.to;
  }

  /** A new, empty sequence of this model's layers; useSequence makes it current. */
  newSequence(): Sequence {
    const c = this.config;
    const stateBytes = c.numHeads * c.headDim * c.headDim * 4;
    const state = c.layerKinds.map((k, i) => (k === 'lightning' && this.runs(i) ? this.gpu.buffer(stateBytes, `lightning state ${i}`) : null));
    const rec = this.gpu.recorder();
    for (const b of state) if (b) rec.clear(b);
    rec.submit();
    const s = new Sequence(state, c.numLayers);
    this.sequences.add(s);
    return s;
  }

  /** The sequence forward and reset act on. */
  get sequence(): Sequence {
    return this.seq;
  }

  /** Makes `s` (made by this model's newSequence) the sequence that forward and reset act on. */
  useSequence(s: Sequence): void {
    if (this.busy) throw new Error('useSequence during a forward: await it first');
    if (!this.sequences.has(s)) throw new Error('useSequence: not a live sequence of this model');
    this.seq = s;
  }

  /** Frees a sequence's states and caches; the current one cannot be dropped. */
  dropSequence(s: Sequence): void {
    if (s === this.seq) throw new Error('dropSequence: that is the current sequence');
    if (this.sequences.delete(s)) s.destroy();
  }

  /** Reads config.json and the checkpoint from `source`, validates both, and uploads the weights. */
  static async load(source: ModelSource, device: GPUDevice, opts: ModelOptions = {}): Promise<Model> {
    return Model.fromCheckpoint(await openCheckpoint(source), device, opts);
  }

  static async fromCheckpoint(ckpt: Checkpoint, device: GPUDevice, opts: ModelOptions = {}): Promise<Model> {
    if (opts.layers) checkLayerRange(opts.layers, ckpt.config.numLayers);
    const gpu = new Gpu(device, opts);
    const stream = opts.expertBudget !== undefined;
    if (opts.quantize !== undefined && !isQuantFormat(opts.quantize)) throw new RangeError(`quantize must be 'int8' or 'int4', got ${JSON.stringify(opts.quantize)}`);
    const cache = stream ? new ExpertCache(gpu, ckpt, { budget: opts.expertBudget!, policy: opts.evictionPolicy, quantize: opts.quantize, layers: opts.layers }) : null;
    try {
      const weights = await uploadWeights(gpu, ckpt, { streamExperts: stream, quantize: opts.quantize, layers: opts.layers, onProgress: opts.onProgress });
      return new Model(gpu, ckpt.config, weights, cache, opts);
    } catch (e) {
      cache?.destroy();
      gpu.destroy();
      throw e;
    }
  }

  /** Runs one call at a time: overlapping calls would interleave their work on one workspace. */
  private async exclusive<T>(f: () => Promise<T>): Promise<T> {
    this.claim();
    try {
      return await f();
    } finally {
      this.busy = false;
    }
  }

  private claim(): void {
    if (this.busy) throw new Error('Model calls must not overlap: await each forward, nextToken or greedyTokens before the next');
    this.busy = true;
  }

  /** Forgets the current sequence: zero lightning states, empty KV caches. */
  reset(): void {
    if (this.busy) throw new Error('Model.reset during a forward: await it first');
    this.seq.position = 0;
    this.seq.broken = false;
    const rec = this.gpu.recorder();
    for (const s of this.seq.state) if (s) rec.clear(s);
    rec.submit();
  }

  /**
   * Feeds `input` through the model after everything fed before, and returns the next-token logits
   * of every fed position ('all', [n, vocab]), of the last one ('last', [vocab]) or none; or, for a
   * part without the head, the residual stream after its last layer ('hidden', [n, hidden]).
   */
  forward(input: PartInput, want: LogitsWanted | 'hidden' = 'last'): Promise<Float32Array> {
    return this.exclusive(() => this.forwardNow(input, want));
  }

  private async forwardNow(input: PartInput, want: LogitsWanted | 'hidden'): Promise<Float32Array> {
    const n = this.checkInput(input);
    if (want !== 'none' && want !== 'hidden') this.needHead();
    const V = this.config.vocabSize;
    const H = this.config.hiddenSize;
    const out = new Float32Array(want === 'all' ? n * V : want === 'last' ? V : want === 'hidden' ? n * H : 0);
    for (let s = 0; s < n; s += this.chunk) {
      const part = this.slice(input, s);
      const m = Math.min(this.chunk, n - s);
      const rec = await this.layers(part);
      if (want === 'all') out.set(await this.logits(rec, m, 0), s * V);
      else if (want === 'last' && s + m === n) out.set(await this.logits(rec, 1, m - 1));
      else if (want === 'hidden') {
        const p = rec.read(this.ws.x, 0, m * H * 4);
        rec.submit();
        out.set(new Float32Array(await p), s * H);
      } else rec.submit();
    }
    return out;
  }

  /** Rows s .. s + chunk of an input. */
  private slice(input: PartInput, s: number): number[] | Float32Array {
    if ('hidden' in input) return input.hidden.subarray(s * this.config.hiddenSize, (s + this.chunk) * this.config.hiddenSize);
    return Array.prototype.slice.call(input, s, s + this.chunk) as number[];
  }

  /** Runs the layers over `input` a prefill chunk at a time; the last chunk's work is left unsubmitted in `rec`. */
  private async feed(input: PartInput, n: number): Promise<{ rec: Recorder; n: number }> {
    let rec: Recorder | null = null;
    let m = 0;
    for (let s = 0; s < n; s += this.chunk) {
      rec?.submit();
      rec = await this.layers(this.slice(input, s));
      m = Math.min(this.chunk, n - s);
    }
    return { rec: rec!, n: m };
  }

  /** Feeds `input` and returns the greedy next token, computed on the GPU (4 bytes read back). */
  nextToken(input: PartInput): Promise<number> {
    return this.exclusive(() => this.nextTokenNow(input));
  }

  private async nextTokenNow(input: PartInput): Promise<number> {
    const count = this.checkInput(input);
    this.needHead();
    if (count === 0) throw new Error('nextToken needs at least one token');
    const { rec, n } = await this.feed(input, count);
    this.greedyPick(rec, n, this.ws.token, 0);
    const p = rec.read(this.ws.token, 0, 4);
    rec.submit();
    return new Uint32Array(await p)[0];
  }

  /**
   * Feeds `ids`, then decodes `count` greedy tokens with every step's argmax feeding the next step's
   * embedding on the GPU, and one readback for them all: a decode step no longer waits for a round
   * trip. The state then holds `ids` and every token but the last, as after count nextToken calls.
   * Streamed experts need each layer's routing on the CPU, so they go a token at a time.
   */
  greedyTokens(ids: ArrayLike<number>, count: number): Promise<number[]> {
    return this.exclusive(() => this.greedyTokensNow(ids, count));
  }

  private async greedyTokensNow(ids: ArrayLike<number>, count: number): Promise<number[]> {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`greedyTokens needs a count ≥ 1, got ${count}`);
    if (this.experts || count === 1) {
      const out = [await this.nextTokenNow(ids)];
      while (out.length < count) out.push(await this.nextTokenNow([out[out.length - 1]]));
      return out;
    }
    this.checkChainInput(ids);
    this.chainSlots(count);
    return await (await this.recordChain(ids, count)).ids;
  }

  /**
   * Feeds `ids`, then decodes `total` greedy tokens in chains as greedyTokens decodes one: the first
   * token alone, handed over before anything more is recorded (it is not kept waiting), then `chain` at
   * a time. From the second chain on, the next chain is recorded and queued before this one is read
   * back, so the GPU does not idle through the readback and the recording. The state therefore runs a
   * chain ahead of the tokens taken: a caller that stops early must reset() before it feeds more. The
   * model is busy until the iteration ends (a break from for await, or return()). Streamed experts go a
   * chain at a time (chainsInTurn), nothing ahead, the model busy only while a chain decodes.
   */
  async *greedyChains(ids: ArrayLike<number>, total: number, chain: number): AsyncGenerator<number[], void, undefined> {
    if (this.experts) {
      yield* chainsInTurn(this, ids, total, chain);
      return;
    }
    checkChains(total, chain);
    this.claim();
    try {
      this.checkChainInput(ids);
      this.chainSlots(chain);
      // Each chain starts from the slot of the one before's last pick, count - 1.
      let recorded = 1;
      const after = (c: { count: number }) => {
        const count = Math.min(chain, total - recorded);
        recorded += count;
        return count > 0 ? this.recordChain(c.count - 1, count) : null;
      };
      let current = await this.recordChain(ids, 1);
      yield await current.ids;
      for (let next = await after(current); next; ) {
        current = next;
        next = await after(current);
        yield await current.ids;
      }
    } finally {
      this.busy = false;
    }
  }

  /** What greedy chains ask of the input and the model part. */
  private checkChainInput(ids: ArrayLike<number>): void {
    this.checkInput(ids);
    this.needHead();
    if (this.range.from !== 0) throw new Error('greedy chains need the embedding: this model part starts at layer ' + this.range.from);
    if (ids.length === 0) throw new Error('greedy chains need at least one token');
  }

  /** chainIds with room for `slots` token ids. */
  private chainSlots(slots: number): void {
    if (this.chainIds && this.chainIds.size >= slots * 4) return;
    // A chain still queued keeps its buffer until it has run: destroy waits for submitted work.
    this.chainIds?.destroy();
    this.chainIds = this.gpu.buffer(Math.max(64, slots) * 4, 'greedy chain ids');
  }

  /**
   * Records and submits `count` greedy steps picking into slots 0.. of chainIds: the first step feeds
   * `start` (ids from the CPU, or the slot where an earlier chain's last pick is), every later step the
   * token the step before it picked. Returns the readback of those slots (settled once the GPU has run
   * them), in an object so that awaiting the recording does not await the readback. Every chain picks
   * into slots from 0: the queue runs the chain before it, and that chain's copy for its readback, first.
   */
  private async recordChain(start: ArrayLike<number> | number, count: number): Promise<{ ids: Promise<number[]>; count: number }> {
    const { gpu, ws, config: c } = this;
    const slots = this.chainIds!;
    let rec: Recorder | null = null;
    let s = 0; // the step being recorded
    if (typeof start !== 'number') {
      const first = await this.feed(start, start.length);
      this.greedyPick(first.rec, first.n, slots, 0);
      rec = first.rec;
      s = 1;
    }
    if (s < count) {
      rec?.submit();
      // The chain's constant CPU write, queued after the feed's submit and before every chained step.
      gpu.write(ws.denseRun, 0, new Uint32Array([0, 1]));
      // The chained steps go into one recorder: one submit for them all (the recorder submits early only
      // when its params arena is full), where a submit a step cost a round of queue work each.
      rec = gpu.recorder();
      for (const first = s; s < count; s++) {
        // The rope table holds a prefill chunk of rows: written again every chunk steps, after the steps that read it were submitted.
        const row = (s - first) % this.chunk;
        if (row === 0 && s > first) rec.submit();
        if (row === 0 && this.hasSoftmax()) gpu.write(ws.rope, 0, ropeTable(this.position, Math.min(this.chunk, count - s), c.rotaryDim, c.ropeTheta));
        rec = await this.layers({ from: s === 0 ? (start as number) : s - 1, ropeRow: row }, rec);
        this.greedyPick(rec, 1, slots, s);
      }
    }
    const p = rec!.read(slots, 0, count * 4);
    rec!.submit();
    const ids = p.then((b) => Array.from(new Uint32Array(b)));
    // A chain that ran ahead of a caller who stopped settles unread: a lost device must not surface as an
    // unhandled rejection (awaiting ids still throws).
    ids.catch(() => {});
    return { ids, count };
  }

  destroy(): void {
    this.chainIds?.destroy();
    destroyWeights(this.weights);
    this.experts?.destroy();
    this.ws.destroy();
    for (const b of this.decay) b?.destroy();
    for (const s of this.sequences) s.destroy();
    this.sequences.clear();
    this.gpu.destroy();
  }

  /** Checks ids (or hidden rows) against the part's first layer and the context; returns the number of tokens. */
  private checkInput(input: PartInput): number {
    if (this.seq.broken) throw new Error('an earlier forward failed part-way, so the sequence is inconsistent: call reset() first');
    const n = this.countInput(input);
    const limit = this.config.maxPositions;
    if (limit !== null && this.position + n > limit)
      throw new RangeError(`a context of ${this.position + n} tokens (${this.position} fed + ${n}) is over the model's ${limit} (max_position_embeddings)`);
    return n;
  }

  private countInput(input: PartInput): number {
    const first = this.range.from === 0;
    if ('hidden' in input) {
      const H = this.config.hiddenSize;
      if (first) throw new Error('this model starts at layer 0: feed it token ids, not hidden states');
      if (input.hidden.length % H !== 0) throw new RangeError(`hidden states of ${input.hidden.length} floats are not rows of ${H}`);
      return input.hidden.length / H;
    }
    if (!first) throw new Error(`this model part starts at layer ${this.range.from}: feed it hidden states, not token ids`);
    for (let i = 0; i < input.length; i++) {
      const id = input[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize)
        throw new RangeError(`token id ${id} at position ${i} is outside the vocabulary (0 .. ${this.config.vocabSize - 1})`);
    }
    return input.length;
  }

  private needHead(): void {
    if (this.range.to !== this.config.numLayers) throw new Error(`this model part ends before layer ${this.range.to}: it has no output head (want 'hidden')`);
  }

  private hasSoftmax(): boolean {
    return this.config.layerKinds.some((k, i) => k === 'softmax' && this.runs(i));
  }

  /** Runs ids (or hidden rows) through the part's layers; the residual stream is left in ws.x. Returns the open recorder. */
  private async layers(input: number[] | Float32Array | { from: number; ropeRow: number }, into?: Recorder): Promise<Recorder> {
    try {
      return await this.runLayers(input, into);
    } catch (e) {
      this.seq.broken = true;
      throw e;
    }
  }

  /**
   * The layers over `ids`, or in a greedy chain over the one token an earlier step's argmax left in
   * slot `from` of chainIds, with row `ropeRow` of the rope table recordChain wrote for the chain.
   */
  private async runLayers(input: number[] | Float32Array | { from: number; ropeRow: number }, into?: Recorder): Promise<Recorder> {
    const { gpu, ws, config: c } = this;
    const hidden = input instanceof Float32Array;
    const chained = !hidden && !Array.isArray(input);
    const n = chained ? 1 : hidden ? input.length / c.hiddenSize : input.length;
    if (!chained) {
      if (hidden) gpu.write(ws.x, 0, input);
      else gpu.write(ws.ids, 0, new Uint32Array(input));
      gpu.write(ws.denseRun, 0, new Uint32Array([0, n]));
      if (this.hasSoftmax()) gpu.write(ws.rope, 0, ropeTable(this.position, n, c.rotaryDim, c.ropeTheta));
    }
    // A greedy chain wrote one rope table for its steps; this step reads its row.
    const ropeRow = chained ? input.ropeRow : 0;
    let rec = into ?? gpu.recorder();
    if (chained) embed(gpu, rec, { ids: this.chainIds!, ids0: input.from, n, table: this.weights.embed!, x: ws.x });
    else if (!hidden) embed(gpu, rec, { ids: ws.ids, n, table: this.weights.embed!, x: ws.x });
    for (let i = this.range.from; i < this.range.to; i++) {
      const L = this.weights.layers[i]!;
      // Layer-ahead prefetch reads ws.h before attention does: the norm cannot wait for attention's first matmul.
      const inputNorm = this.norm(rec, L.inputNorm, n, this.prefetch === 'layer' ? 0 : (L.kind === 'lightning' ? L.attn.qkv_proj : L.attn.qkv).shape[0]);
      if (this.prefetch === 'layer') this.predictExperts(rec, i, n);
      if (L.kind === 'lightning') this.lightning(rec, i, L, n, inputNorm);
      else this.softmaxAttention(rec, i, L, n, ropeRow, inputNorm);
      // An MLP's first kernel folds the norm in when it is normedSwiglu or the router's matmul (a lone
      // expert beside a shared one starts with expertSwiglu, whose bindings leave no room for it).
      const postNorm = this.norm(rec, L.postNorm, n, this.denseMlp(L) ? c.intermediateSize : c.numExperts > 1 ? c.numExperts : 0);
      rec = await this.mlp(rec, i, L, n, postNorm);
    }
    this.seq.position += n;
    return rec;
  }

  /**
   * The RMSNorm of n rows of ws.x into ws.h (or of the first `normRows`): dispatched now, or where the
   * first kernel to read ws.h (of `readerRows` weight rows; 0: one that cannot) folds it in (foldsNorm),
   * returned for that kernel, which writes ws.h.
   */
  private norm(rec: Recorder, w: GpuTensor, n: number, readerRows: number, normRows = n): FoldedNorm | undefined {
    const { gpu, ws, config: c } = this;
    if (readerRows > 0 && foldsNorm(gpu, n, readerRows, c.hiddenSize)) return { w, eps: c.rmsNormEps, h: ws.h };
    rmsnorm(gpu, rec, { x: ws.x, n: normRows, w, eps: c.rmsNormEps, y: ws.h });
  }

  /** A reader's input: ws.h, or with a folded norm ws.x and the norm. */
  private normed(norm: FoldedNorm | undefined): { x: GPUBuffer; norm?: FoldedNorm } {
    return norm ? { x: this.ws.x, norm } : { x: this.ws.h };
  }

  /** A layer's MLP is one expert without router or shared expert (its first kernel folds a norm in, as a router's matmul does). */
  private denseMlp(L: LayerWeights): boolean {
    return this.config.numExperts === 1 && !L.shared;
  }

  /** x ← alpha·(postnorm ? h : x) + beta·a, then a becomes the stream. */
  private join(rec: Recorder, n: number, alpha: number, beta: number): void {
    const ws = this.ws;
    residual(this.gpu, rec, { r: this.config.postnorm ? ws.h : ws.x, a: ws.a, count: n * this.config.hiddenSize, alpha, beta });
    [ws.x, ws.a] = [ws.a, ws.x];
  }

  /** An output projection of `src` with the join fused in: x ← alpha·(postnorm ? h : x) + beta·(src·Wᵀ). */
  private projectAndJoin(rec: Recorder, src: GPUBuffer, w: GpuTensor, n: number, alpha: number, beta: number): void {
    const ws = this.ws;
    matmul(this.gpu, rec, { x: src, n, w, y: ws.a, residual: { r: this.config.postnorm ? ws.h : ws.x, alpha, beta } });
    [ws.x, ws.a] = [ws.a, ws.x];
  }

  private lightning(rec: Recorder, i: number, L: LayerWeights, n: number, norm?: FoldedNorm): void {
    const { gpu, ws, config: c } = this;
    matmul(gpu, rec, { ...this.normed(norm), n, w: L.attn.qkv_proj, y: ws.qkv, act: 'silu' });
    const args = {
      qkv: ws.qkv,
      decay: this.decay[i]!,
      decayStride: this.block + 1,
      state: this.seq.state[i]!,
      o: ws.attn,
      scores: ws.lightningScores,
      n,
      numHeads: c.numHeads,
      headDim: c.headDim,
    };
    if (n === 1) lightningDecode(gpu, rec, args);
    else lightningPrefill(gpu, rec, args);
    matmul(gpu, rec, { x: ws.h, n, w: L.attn.output_gate, y: ws.q });
    lightningOutput(gpu, rec, { o: ws.attn, g: ws.q, n, w: L.attn.norm, eps: LIGHTNING_NORM_EPS });
    this.projectAndJoin(rec, ws.attn, L.attn.out_proj, n, c.linearAlpha, c.linearBeta);
  }

  private softmaxAttention(rec: Recorder, i: number, L: LayerWeights, n: number, ropeRow: number, norm?: FoldedNorm): void {
    const { gpu, ws, config: c } = this;
    const kvWidth = c.numKvHeads * c.headDim;
    // One matmul gives each token a q|k|v row; one pass turns its q and k heads and appends k and v
    // (decode: attention does that itself).
    const kCol = c.numHeads * c.headDim;
    const vCol = kCol + kvWidth;
    const stride = vCol + kvWidth;
    matmul(gpu, rec, { ...this.normed(norm), n, w: L.attn.qkv, y: ws.qkv });
    const kv = this.kvCache(i, this.position + n);
    const pageTokens = this.pageTokens;
    if (n > 1) ropeAppend(gpu, rec, {
      src: ws.qkv,
      stride,
      kCol,
      vCol,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      rotaryDim: c.rotaryDim,
      table: ws.rope,
      tableRow0: ropeRow,
      n,
      pos: this.position,
      pages: kv.pages,
      pageTokens,
    });
    attention(gpu, rec, {
      q: ws.qkv,
      qStride: stride,
      pages: kv.pages,
      pageTokens,
      part: ws.attentionScratch,
      o: ws.attn,
      n,
      past: this.position,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      append: n === 1 ? { table: ws.rope, row: ropeRow, kCol, vCol, rotaryDim: c.rotaryDim } : undefined,
    });
    this.projectAndJoin(rec, ws.attn, L.attn.o_proj, n, c.fullAlpha, c.fullBeta);
  }

  /** The KV cache of layer i with pages enough for `tokens`: new pages are added, none is copied. */
  private kvCache(i: number, tokens: number): KvCache {
    const c = this.config;
    const kv0 = this.seq.kv;
    const kv = (kv0[i] ??= { pages: [] });
    const bytes = this.pageTokens * kvRowBytes(c.numKvHeads, c.headDim, this.gpu.choices.kvFormat);
    while (kv.pages.length * this.pageTokens < tokens) {
      const p = kv.pages.length;
      kv.pages.push({ k: this.gpu.buffer(bytes, `k cache ${i} page ${p}`), v: this.gpu.buffer(bytes, `v cache ${i} page ${p}`) });
    }
    return kv;
  }

  /**
   * The MLP on ws.h joined into the stream. One expert and no shared one is a dense SwiGLU MLP: its
   * down projection takes the join, as the attention's output projection does.
   */
  private async mlp(rec: Recorder, layer: number, L: LayerWeights, n: number, norm?: FoldedNorm): Promise<Recorder> {
    const { ws, config: c } = this;
    if (this.denseMlp(L)) {
      const [X] = this.experts ? await this.experts.acquire(layer, [0]) : L.experts;
      if (norm) normedSwiglu(this.gpu, rec, { x: ws.x, w1: X.w1, w3: X.w3, u: ws.expertHidden, norm });
      else expertSwiglu(this.gpu, rec, { ...this.denseRows(n), x: ws.h, w1: X.w1, w3: X.w3, u: ws.expertHidden });
      this.projectAndJoin(rec, ws.expertHidden, X.w2, n, c.mlpAlpha, c.mlpBeta);
      return rec;
    }
    if (this.routedDecode(L, n) && !L.shared) {
      // The join goes into the experts' down projection, as into an attention's output projection.
      this.routedExperts(rec, L, n, { r: c.postnorm ? ws.h : ws.x, alpha: c.mlpAlpha, beta: c.mlpBeta }, norm);
      [ws.x, ws.a] = [ws.a, ws.x];
      return rec;
    }
    rec = await this.moe(rec, layer, L, n, norm);
    this.join(rec, n, c.mlpAlpha, c.mlpBeta);
    return rec;
  }

  /** One decoded token over a layer's stacked resident experts: its k choices run in one dispatch each way. */
  private routedDecode(L: LayerWeights, n: number): boolean {
    const E = this.config.numExperts;
    return n === 1 && E > 1 && L.experts[0]?.stack.count === E;
  }

  /** The router, then the chosen experts straight from its choices (no plan) into ws.a, or joined into the stream there. */
  private routedExperts(rec: Recorder, L: LayerWeights, n: number, residual?: { r: GPUBuffer; alpha: number; beta: number }, norm?: FoldedNorm): void {
    const { gpu, ws, config: c } = this;
    const [X] = L.experts;
    const k = c.expertsPerToken;
    this.route(rec, L, n, norm);
    expertSwigluRouted(gpu, rec, { x: ws.h, w1: X.w1, w3: X.w3, experts: c.numExperts, idx: ws.routeIdx, n, k, u: ws.expertHidden });
    expertDownRouted(gpu, rec, { u: ws.expertHidden, w2: X.w2, experts: c.numExperts, idx: ws.routeIdx, weight: ws.routeWeight, n, k, out: ws.a, residual });
  }

  /**
   * Mixture of experts on ws.h into ws.a: each chosen expert runs once over the tokens routed to it
   * (ggml's mul_mat_id), then the optional shared expert. Resident experts are planned on the GPU and
   * dispatched indirectly: no round trip. Streamed experts need the choices on the CPU, to load them.
   */
  private async moe(rec: Recorder, layer: number, L: LayerWeights, n: number, norm?: FoldedNorm): Promise<Recorder> {
    const { gpu, ws, config: c } = this;
    const routed = this.routedDecode(L, n);
    // The routed kernels write every element of ws.a; the others add into it.
    if (!routed) rec.clear(ws.a, 0, n * c.hiddenSize * 4);
    if (routed) {
      this.routedExperts(rec, L, n, undefined, norm);
    } else if (c.numExperts === 1) {
      const only = this.experts ? await this.experts.acquire(layer, [0]) : L.experts;
      this.runExperts(rec, only, [this.denseRows(n)], ws.ones);
    } else if (!this.experts) {
      this.routeOnGpu(rec, L, n, norm);
      const rows = L.experts.map((_, e) => ({ tok: ws.planTok, runs: ws.runs, expert: e, args: ws.expertArgs, tokens: n }));
      this.runExperts(rec, L.experts, rows, ws.planWeight);
    } else {
      const runs = await this.routeOnCpu(rec, layer, L, n, norm);
      // Streamed experts come in waves of at most one layer's slots; a wave is submitted before the
      // next one may overwrite its slots.
      const wave = this.experts.slotsPerLayer;
      for (let w = 0; w < runs.length; w += wave) {
        const part = runs.slice(w, w + wave);
        const experts = await this.experts.acquire(layer, part.map((r) => r.expert));
        this.runExperts(rec, experts, part, ws.planWeight);
        if (w + wave < runs.length) rec.submit();
      }
    }
    if (L.shared) {
      const S = L.shared;
      rec.clear(ws.shared, 0, n * c.hiddenSize * 4);
      const rows = this.denseRows(n);
      expertSwiglu(gpu, rec, { ...rows, x: ws.h, w1: S.gate, w3: S.up, u: ws.expertHidden });
      expertDown(gpu, rec, { ...rows, u: ws.expertHidden, w2: S.down, weight: ws.ones, out: ws.shared });
      matmul(gpu, rec, { x: ws.h, n, w: S.coefficient, y: ws.routerLogits });
      sharedExpertMix(gpu, rec, { cz: ws.routerLogits, shared: ws.shared, moe: ws.a, n, hidden: c.hiddenSize });
    }
    return rec;
  }

  /** Every one of n tokens routed to one expert (a dense MLP, or the shared expert). */
  private denseRows(n: number): ExpertRows {
    return { tok: this.ws.iota, runs: this.ws.denseRun, expert: 0, count: n, tokens: n };
  }

  /** experts[j] over its rows[j], scattered into ws.a with the row weights. */
  private runExperts(rec: Recorder, experts: ExpertWeights[], rows: ExpertRows[], weight: GPUBuffer): void {
    const { gpu, ws } = this;
    experts.forEach((X, j) => {
      expertSwiglu(gpu, rec, { ...rows[j], x: ws.h, w1: X.w1, w3: X.w3, u: ws.expertHidden, stack: X.stack });
      expertDown(gpu, rec, { ...rows[j], u: ws.expertHidden, w2: X.w2, weight, out: ws.a, stack: X.stack });
    });
  }

  /** The router on ws.h (or its norm folded in): each token's k choices and weights into ws.routeIdx and ws.routeWeight. */
  private route(rec: Recorder, L: LayerWeights, n: number, norm?: FoldedNorm): void {
    const { gpu, ws, config: c } = this;
    matmul(gpu, rec, { ...this.normed(norm), n, w: L.router, y: ws.routerLogits });
    router(gpu, rec, { z: ws.routerLogits, n, experts: c.numExperts, k: c.expertsPerToken, idx: ws.routeIdx, weight: ws.routeWeight });
  }

  private routeOnGpu(rec: Recorder, L: LayerWeights, n: number, norm?: FoldedNorm): void {
    const { gpu, ws, config: c } = this;
    const k = c.expertsPerToken;
    this.route(rec, L, n, norm);
    moePlan(gpu, rec, {
      idx: ws.routeIdx,
      weight: ws.routeWeight,
      n,
      k,
      experts: c.numExperts,
      inter: c.intermediateSize,
      hidden: c.hiddenSize,
      tok: ws.planTok,
      rowWeight: ws.planWeight,
      runs: ws.runs,
      args: ws.expertArgs,
    });
  }

  /**
   * Routing on the GPU, its top-k choices read back (k ids and weights per token) and grouped by
   * expert on the CPU. Returns the rows of each chosen expert, in expert order.
   */
  private async routeOnCpu(rec: Recorder, layer: number, L: LayerWeights, n: number, norm?: FoldedNorm): Promise<(ExpertRows & { count: number })[]> {
    const { gpu, ws, config: c } = this;
    const k = c.expertsPerToken;
    const E = c.numExperts;
    this.route(rec, L, n, norm);
    const idxP = rec.read(ws.routeIdx, 0, n * k * 4);
    const wP = rec.read(ws.routeWeight, 0, n * k * 4);
    const next = this.prefetch === 'next' && layer + 1 < this.range.to ? this.predictNext(rec, layer + 1, n) : null;
    rec.submit();
    const idx = new Uint32Array(await idxP);
    const wt = new Float32Array(await wP);
    if (next) this.experts!.prefetch(layer + 1, [...new Set(new Uint32Array(await next))]);

    const rows: number[][] = Array.from({ length: E }, () => []);
    for (let r = 0; r < n * k; r++) {
      if (idx[r] >= E || !Number.isFinite(wt[r]))
        throw new Error(`layer ${layer}: the router chose no expert for token ${Math.floor(r / k)}: its logits are not finite (NaN or Inf in the weights or activations)`);
      rows[idx[r]].push(r);
    }
    const tok = new Uint32Array(n * k);
    const weight = new Float32Array(n * k);
    const runs = new Uint32Array(2 * E);
    let o = 0;
    const chosen: (ExpertRows & { count: number })[] = [];
    rows.forEach((list, e) => {
      runs[2 * e] = o;
      runs[2 * e + 1] = list.length;
      if (list.length) chosen.push({ tok: ws.planTok, runs: ws.runs, expert: e, count: list.length, tokens: n });
      for (const r of list) {
        tok[o] = Math.floor(r / k);
        weight[o++] = wt[r];
      }
    });
    gpu.write(ws.planTok, 0, tok);
    gpu.write(ws.planWeight, 0, weight);
    gpu.write(ws.runs, 0, runs);
    return chosen;
  }

  /** The next layer's router on this layer's MoE input: a prediction read back with this layer's routing. */
  private predictNext(rec: Recorder, layer: number, n: number): Promise<ArrayBuffer> {
    const { gpu, ws, config: c } = this;
    const k = c.expertsPerToken;
    // The routing copies are already recorded, so the router's buffers can be reused (all but the ids).
    matmul(gpu, rec, { x: ws.h, n, w: this.weights.layers[layer]!.router, y: ws.routerLogits });
    router(gpu, rec, { z: ws.routerLogits, n, experts: c.numExperts, k, idx: ws.predictIdx, weight: ws.routeWeight });
    return rec.read(ws.predictIdx, 0, n * k * 4);
  }

  /**
   * Prefetch: the layer's router applied to its input-normed state predicts the experts its MoE will
   * choose (postnorm keeps the two states close). The prediction is submitted ahead of the attention
   * work, so expert bytes load while attention runs.
   */
  private predictExperts(rec: Recorder, layer: number, n: number): void {
    const { gpu, ws, config: c } = this;
    const k = c.expertsPerToken;
    matmul(gpu, rec, { x: ws.h, n, w: this.weights.layers[layer]!.router, y: ws.routerLogits });
    router(gpu, rec, { z: ws.routerLogits, n, experts: c.numExperts, k, idx: ws.predictIdx, weight: ws.routeWeight });
    const p = rec.read(ws.predictIdx, 0, n * k * 4);
    rec.submit();
    p.then((b) => this.experts!.prefetch(layer, [...new Set(new Uint32Array(b))])).catch(() => {}); // only a hint
  }

  /** The greedy token after the last of n rows of ws.x, into slot `slot` of `out`. */
  private greedyPick(rec: Recorder, n: number, out: GPUBuffer, slot: number): void {
    this.lmHead(rec, 1, n - 1, this.finalNorm(rec, n - 1, 1));
    argmax(this.gpu, rec, { logits: this.ws.logits, offset: 0, count: this.config.vocabSize, out, slot });
  }

  /** The final norm of rows ..row0 + rows of ws.x into ws.h, or of one row folded into lm_head (returned for it). */
  private finalNorm(rec: Recorder, row0: number, rows: number): FoldedNorm | undefined {
    return this.norm(rec, this.weights.norm!, rows, this.config.vocabSize, row0 + rows);
  }

  /** lm_head on `rows` normed rows of ws.h from `row0` (or of ws.x with the norm folded in), into ws.logits. */
  private lmHead(rec: Recorder, rows: number, row0: number, norm?: FoldedNorm): void {
    matmul(this.gpu, rec, { ...this.normed(norm), x0: row0, n: rows, w: this.weights.lmHead!, y: this.ws.logits });
  }

  /** Logits of `rows` rows from `row0`, read back in batches that fit the logits buffer. */
  private async logits(rec: Recorder, rows: number, row0: number): Promise<Float32Array> {
    const V = this.config.vocabSize;
    const out = new Float32Array(rows * V);
    const batch = this.ws.logitsFor(rows, rec);
    const norm = this.finalNorm(rec, row0, rows);
    for (let r = 0; r < rows; r += batch) {
      const m = Math.min(batch, rows - r);
      this.lmHead(rec, m, row0 + r, norm);
      const p = rec.read(this.ws.logits, 0, m * V * 4);
      rec.submit();
      out.set(new Float32Array(await p), r * V);
    }
    const bad = out.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`the logits of position ${this.position - rows + Math.floor(bad / V)} are not finite (NaN or Inf in the weights or activations)`);
    return out;
  }
}
