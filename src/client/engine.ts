/**
 * createEngine: the public face of lightmoe. By default the engine runs in a module Web Worker reached
 * through comlink, so the page's main thread never blocks; `worker: false` runs it in the calling thread
 * (Node, or apps that manage their own workers).
 */
import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import type { EngineCore, LoadOptions, LoadProgress, ModelInfo, ModelSpec } from '../engine/core';
import type { GenerateChunk, GenerateRequest, GenerateResult } from '../engine/generation';
import type { ModelStats } from '../engine/stats';
import { abortError } from '../engine/abort';
import { requestGpuDevice } from '../gpu/device';
import { sendErrorsWithTheirClass } from './errors';
import { ChatCompletions } from './openai';
import { startEngineWorker } from './workerStart';
import { generation } from './generationStream';
import { OpenAIEngine, type OpenAIEngineOptions } from './openaiBackend';
import type { WebSocketClass } from '../shard/remoteExecutor';

export interface EngineOptions extends LoadOptions {
  /** 'local' (default): the model runs here, on WebGPU. See OpenAIEngineOptions for 'openai'. */
  backend?: 'local';
  model: ModelSpec;
  /** Run in a Web Worker (default where Worker exists) or in this thread. */
  worker?: boolean;
  /** In-thread only: the device to use (e.g. Dawn's in Node); default navigator.gpu. */
  device?: () => Promise<GPUDevice>;
  /** In-thread only: the WebSocket class for `shards` (default the runtime's own; lightmoe/node passes the ws package's). */
  webSocket?: WebSocketClass;
  onProgress?: (p: LoadProgress) => void;
  /** The GPU device was lost: create the engine again (no page reload needed). */
  onDeviceLost?: (message: string) => void;
  signal?: AbortSignal;
}

export interface GenerateOptions extends Omit<GenerateRequest, 'prompt'> {
  signal?: AbortSignal;
  onToken?: (c: GenerateChunk) => void;
}

/**
 * A generation in progress: `for await` its chunks as they come, or `await` it (or its `result`) for the
 * whole result.
 */
export interface Generation extends AsyncIterable<GenerateChunk>, PromiseLike<GenerateResult> {
  readonly result: Promise<GenerateResult>;
}

type Core = EngineCore | Remote<EngineCore>;

export class Engine {
  readonly chat: { completions: ChatCompletions };
  private nextId = 1;

  /** @internal use createEngine */
  constructor(
    private readonly core: Core,
    readonly info: ModelInfo,
    private readonly worker: Worker | null,
  ) {
    this.chat = { completions: new ChatCompletions(this) };
  }

  /** Generates from a text prompt (tokenized with the model's tokenizer, BOS added) or from token ids. */
  generate(prompt: string | number[], opts: GenerateOptions = {}): Generation {
    const { signal, onToken, ...req } = opts;
    return generation(async (emit) => {
      const ids = typeof prompt === 'string' ? await this.core.encode(prompt) : prompt;
      return this.run({ ...req, prompt: ids }, (c) => {
        // Tokens the worker had already made when the abort reached it are not handed on.
        if (signal?.aborted) return;
        onToken?.(c);
        emit(c);
      }, signal);
    });
  }

  /**
   * Memory by kind, the expert cache's hits per layer and expert, and where each layer runs. Counters
   * only, no GPU work: a page may poll it while a generation streams.
   */
  stats(): Promise<ModelStats> {
    return Promise.resolve(this.core.stats());
  }

  /** Next-token logits of every position of `ids` ([n, vocab], row-major), for scoring. */
  logits(ids: number[]): Promise<Float32Array> {
    return this.core.logits(ids);
  }

  encode(text: string, addSpecialTokens = true): Promise<number[]> {
    return Promise.resolve(this.core.encode(text, addSpecialTokens));
  }

  decode(ids: number[]): Promise<string> {
    return Promise.resolve(this.core.decode(ids));
  }

  /** Frees GPU memory; a worker is terminated. The engine cannot be used afterwards. */
  async unload(): Promise<void> {
    try {
      await this.core.unload();
    } finally {
      // A worker goes away even when its unload failed (a lost device): it would hold the device otherwise.
      if (this.worker) {
        (this.core as Remote<EngineCore>)[releaseProxy]();
        this.worker.terminate();
      }
    }
  }

  /** @internal */
  async run(req: GenerateRequest, onChunk: (c: GenerateChunk) => void, signal?: AbortSignal): Promise<GenerateResult> {
    if (signal?.aborted) throw abortError('generation');
    const id = this.nextId++;
    const onAbort = () => void this.core.abort(id);
    signal?.addEventListener('abort', onAbort);
    try {
      return await this.core.generate(id, req, this.worker ? proxy(onChunk) : onChunk);
    } catch (e) {
      // An abort crosses the worker boundary as a plain error: give callers a real AbortError.
      if (signal?.aborted) throw abortError('generation');
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** @internal */
  chatPrompt(req: Parameters<EngineCore['chatPrompt']>[0]): Promise<ReturnType<EngineCore['chatPrompt']>> {
    return Promise.resolve(this.core.chatPrompt(req));
  }
}

/**
 * Loads a model and starts its engine; or, with `backend: 'openai'`, connects to an OpenAI-compatible
 * server (lightmoe serve, vLLM, SGLang) behind the same generate / chat.completions / unload API.
 */
export function createEngine(opts: OpenAIEngineOptions): Promise<OpenAIEngine>;
export function createEngine(opts: EngineOptions): Promise<Engine>;
export function createEngine(opts: EngineOptions | OpenAIEngineOptions): Promise<Engine | OpenAIEngine>;
export async function createEngine(opts: EngineOptions | OpenAIEngineOptions): Promise<Engine | OpenAIEngine> {
  if (opts.backend === 'openai') return OpenAIEngine.connect(opts);
  if (opts.backend !== undefined && opts.backend !== 'local') throw new RangeError(`backend must be 'local' or 'openai', got ${JSON.stringify(opts.backend)}`);
  return createLocalEngine(opts);
}

async function createLocalEngine(opts: EngineOptions): Promise<Engine> {
  const { model, backend: _backend, worker = typeof Worker !== 'undefined', device, webSocket, onProgress, onDeviceLost, signal, ...load } = opts;
  if (signal?.aborted) throw abortError('load');
  let w: Worker | null = null;
  let core: Core;
  let failed: Promise<never> = new Promise(() => {});
  if (worker) {
    sendErrorsWithTheirClass();
    ({ worker: w, failed } = startEngineWorker());
    core = wrap<EngineCore>(w);
  } else {
    // Loaded only here, so that the page's bundle in worker mode holds the client alone.
    const { EngineCore } = await import('../engine/core');
    core = new EngineCore(device ?? (() => requestGpuDevice()), webSocket);
  }
  const wrapFn = <F extends (...a: never[]) => unknown>(f?: F) => (f && w ? proxy(f) : f);
  // Progress the worker sent before an abort can arrive after it: none is handed on once the load settled.
  let settled = false;
  const progress = onProgress && ((p: LoadProgress) => void (settled || onProgress(p)));
  let onAbort = () => {};
  const abort = new Promise<never>((_, reject) => {
    onAbort = () => {
      void core.abortLoad();
      reject(abortError('load'));
    };
    signal?.addEventListener('abort', onAbort);
  });
  try {
    const info = await Promise.race([core.load(model, load, wrapFn(progress), wrapFn(onDeviceLost)), abort, failed]);
    return new Engine(core, info, w);
  } catch (e) {
    // An aborted or failed load frees what it held: the worker (with its device) goes away.
    if (w) w.terminate();
    else void core.unload();
    throw e;
  } finally {
    settled = true;
    signal?.removeEventListener('abort', onAbort); // a signal that outlives the load keeps no engine alive
  }
}
