/**
 * The engine behind createEngine: a model, its tokenizer and chat template, and generations. It runs
 * in a Web Worker (reached through comlink) or in the calling thread; nothing here touches the DOM.
 */
import { applyChatTemplate, type ChatMessage, type ToolDef } from '../text/chatTemplate';
import { opensThinking } from '../text/thinking';
import { loadTokenizer, type Tokenizer } from '../text/tokenizer';
import type { ModelConfig } from '../model/config';
import { openCheckpoint, type Checkpoint } from '../model/checkpoint';
import { downloadModel, openStoredCheckpoint, readStoredText, storedModel } from '../store/modelStore';
import { directorySource, filesSource } from '../model/localSource';
import { fetchSource, readJson, type ModelSource } from '../model/source';
import { generate, type GenerateChunk, type GenerateRequest, type GenerateResult } from './generation';
import { Model, type ModelOptions } from './model';
import type { LanguageModel } from './languageModel';
import { loadSharded, type ShardingOptions } from '../shard/coordinator';
import type { WebSocketClass } from '../shard/remoteExecutor';
import type { LoadProgress } from './weights';
import type { ModelStats } from './stats';

export type { LoadProgress };

/** Where a model comes from: a folder URL, a folder the user picked, or any ModelSource. */
export type ModelSpec = string | FileSystemDirectoryHandle | File[] | ModelSource;

export interface LoadOptions extends Omit<ModelOptions, 'onProgress' | 'layers'>, ShardingOptions {
  /**
   * A model URL in a browser is stored in IndexedDB first (resumable; later loads read no weights from
   * the network) unless this is false.
   */
  cache?: boolean;
}

export interface ModelInfo {
  /** The model's short name: its folder's name (what `model` says in chat completions). */
  id: string;
  /** Where it was loaded from: a URL, a folder path, … */
  name: string;
  config: ModelConfig;
  hasTokenizer: boolean;
  hasChatTemplate: boolean;
}

export interface ChatPromptRequest {
  messages: ChatMessage[];
  tools?: ToolDef[];
}

function toSource(spec: ModelSpec): ModelSource {
  if (typeof spec === 'string') return fetchSource(spec.endsWith('/') ? spec : spec + '/');
  if (Array.isArray(spec)) return filesSource(spec);
  if ('open' in spec && 'readText' in spec) return spec;
  return directorySource(spec as FileSystemDirectoryHandle);
}


/**
 * tokenizer_config.json's chat_template: a string, or a list of named templates (the 'default' one);
 * newer folders keep it in chat_template.jinja instead.
 */
function chatTemplateOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.find((t) => t?.name === 'default') ?? v[0];
    return typeof named?.template === 'string' ? named.template : null;
  }
  return null;
}

/** The last segment of a folder path or URL: `https://host/models/stories260k/` → `stories260k`. */
function folderName(name: string): string {
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(name) ? new URL(name).pathname : name;
  const last = path.split(/[\\/]/).filter(Boolean).pop() ?? name;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

export class EngineCore {
  private model: LanguageModel | null = null;
  /** What is loaded, or null. */
  info: ModelInfo | null = null;
  private device: GPUDevice | null = null;
  private tokenizer: Tokenizer | null = null;
  private template: string | null = null;
  private special: { bos?: string; eos?: string } = {};
  private generationConfig: Record<string, unknown> = {};
  private eosIds: number[] = [];
  private readonly running = new Map<number, AbortController>();
  private loading: AbortController | null = null;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly getDevice: () => Promise<GPUDevice>,
    /** The WebSocket class for remote shards: the runtime's own unless given (lightmoe/node gives ws's). */
    private readonly webSocket?: WebSocketClass,
  ) {}

  /** Callbacks are separate arguments so that comlink can proxy each of them. */
  async load(spec: ModelSpec, opts: LoadOptions = {}, onProgress?: (p: LoadProgress) => void, onDeviceLost?: (message: string) => void): Promise<ModelInfo> {
    const cb = { onProgress, onDeviceLost };
    await this.unload();
    const { cache, devices, shards, shardTimeoutMs, onShardFailure, ...modelOpts } = opts;
    const ctl = (this.loading = new AbortController());
    // The device first: a browser without WebGPU (or a page that is not a secure context) is told so
    // before anything is downloaded.
    const device = await this.getDevice();
    let source: ModelSource;
    let ckpt: Checkpoint;
    try {
      source = toSource(spec);
      if (typeof spec === 'string' && cache !== false && typeof indexedDB !== 'undefined') {
        const id = new URL(spec.endsWith('/') ? spec : spec + '/', globalThis.location?.href).href;
        // A model stored whole loads from IndexedDB alone, so it loads offline; deleteModel(id) fetches it anew.
        if (!(await storedModel(id))?.complete) {
          await downloadModel(id, {
            signal: ctl.signal,
            onProgress: (p) => cb.onProgress?.({ phase: p.phase, loaded: p.bytes, total: p.total, item: p.file }),
          });
        }
        ckpt = await openStoredCheckpoint(id);
        source = { name: id, open: async () => null, readText: (file) => readStoredText(id, file) };
      } else {
        ckpt = await openCheckpoint(source);
      }
      if (ctl.signal.aborted) throw ctl.signal.reason;
    } catch (e) {
      device.destroy();
      throw e;
    }
    device.lost.then((info) => {
      if (this.device === device) {
        this.model = null;
        this.device = null;
        cb.onDeviceLost?.(info.message || `GPU device lost (${info.reason})`);
      }
    });
    try {
      const loadOpts = { ...modelOpts, onProgress: cb.onProgress };
      // The device asked for above is the first of a sharded load's devices.
      let firstUsed = false;
      const nextDevice = async () => (firstUsed ? this.getDevice() : ((firstUsed = true), device));
      const model: LanguageModel =
        (devices ?? 1) > 1 || shards?.length
          ? await loadSharded(ckpt, { devices, shards, shardTimeoutMs, onShardFailure, model: loadOpts, getDevice: nextDevice, WebSocket: this.webSocket })
          : await Model.fromCheckpoint(ckpt, device, loadOpts);
      cb.onProgress?.({ phase: 'compile', loaded: 0, total: 1 });
      try {
        // Compiles every pipeline a prefill (4 tokens: attention's many-query variant) and a decode step use,
        // so that the first reply does not wait for them: its first token came 1.2 s late, now 77 ms.
        await model.forward([0, 0, 0, 0], 'last');
        await model.nextToken([0]);
        await model.reset();
      } catch (e) {
        await model.destroy();
        throw e;
      }
      cb.onProgress?.({ phase: 'compile', loaded: 1, total: 1 });
      this.tokenizer = await loadTokenizer(source);
      const tc = ((await readJson(source, 'tokenizer_config.json')) ?? {}) as Record<string, unknown>;
      this.template = chatTemplateOf(tc.chat_template) ?? (await source.readText('chat_template.jinja'));
      const tokenText = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'object' && v && 'content' in v ? String((v as { content: unknown }).content) : undefined);
      this.special = { bos: tokenText(tc.bos_token), eos: tokenText(tc.eos_token) };
      this.generationConfig = ((await readJson(source, 'generation_config.json')) ?? {}) as Record<string, unknown>;
      this.eosIds = [this.generationConfig.eos_token_id ?? []].flat().filter((v): v is number => Number.isInteger(v));
      this.model = model;
      this.device = device;
      this.info = { id: folderName(source.name), name: source.name, config: ckpt.config, hasTokenizer: !!this.tokenizer, hasChatTemplate: !!this.template };
      return this.info;
    } catch (e) {
      device.destroy();
      throw e;
    }
  }

  /** Stops a load in progress (its download keeps what it stored). */
  abortLoad(): void {
    this.loading?.abort(new DOMException('The load was aborted.', 'AbortError'));
  }

  /** Runs one generation; `id` names it for abort(). Generations run one at a time. */
  generate(id: number, req: GenerateRequest, onChunk?: (c: GenerateChunk) => unknown): Promise<GenerateResult> {
    const ctl = new AbortController();
    this.running.set(id, ctl);
    // Across a worker, onChunk is a comlink proxy whose calls travel on a port of their own: the result
    // waits for the last one, so that no chunk arrives after it.
    let delivered: unknown = undefined;
    const send = onChunk && ((c: GenerateChunk) => void (delivered = onChunk(c)));
    const run = this.busy.then(async () => {
      const r = await generate({ model: this.need(), tokenizer: this.tokenizer, generationConfig: this.generationConfig, eosIds: this.eosIds }, req, send, ctl.signal);
      await delivered;
      return r;
    });
    this.busy = run.catch(() => {});
    return run.finally(() => this.running.delete(id));
  }

  abort(id: number): void {
    this.running.get(id)?.abort();
  }

  /** The loaded model's memory, expert-cache counters and placement; answered between GPU steps, so during a generation too. */
  stats(): ModelStats {
    return this.need().stats();
  }

  /**
   * Prompt ids of a chat, through the model's chat template (tools included), and whether the template
   * left a `<think>` open for the reply (then the reply starts in its reasoning).
   */
  chatPrompt(req: ChatPromptRequest): { ids: number[]; startsInThinking: boolean } {
    const tok = this.needTokenizer();
    const render = (messages: ChatMessage[]) =>
      applyChatTemplate(this.template, messages, { tools: req.tools, addGenerationPrompt: true, bosToken: this.special.bos, eosToken: this.special.eos });
    const text = render(req.messages);
    // The template writes the special tokens itself.
    return { ids: tok.encode(text, { addSpecialTokens: !this.template }), startsInThinking: opensThinking(this.templateTail(req.messages, render) ?? text) };
  }

  /**
   * What the template writes after the last message's content: only there can it open `<think>` for
   * the reply (a user who writes `<think>` opens nothing). Found by rendering that content as a marker;
   * null when the template does not show it verbatim.
   */
  private templateTail(messages: ChatMessage[], render: (m: ChatMessage[]) => string): string | null {
    const last = messages.at(-1);
    if (!last) return null;
    const marker = '\u0000lightmoe-end-of-content\u0000';
    const text = render([...messages.slice(0, -1), { ...last, content: marker }]);
    const at = text.lastIndexOf(marker);
    return at < 0 ? null : text.slice(at + marker.length);
  }

  encode(text: string, addSpecialTokens = true): number[] {
    return this.needTokenizer().encode(text, { addSpecialTokens });
  }

  decode(ids: number[]): string {
    return this.needTokenizer().decode(ids);
  }

  /** Next-token logits [n, vocab] of every position of `ids`, from a fresh sequence. */
  async logits(ids: number[]): Promise<Float32Array> {
    const model = this.need();
    const run = this.busy.then(async () => {
      await model.reset();
      return model.forward(ids, 'all');
    });
    this.busy = run.catch(() => {});
    return run;
  }

  /** Frees the model's GPU memory and the device. */
  async unload(): Promise<void> {
    for (const c of this.running.values()) c.abort();
    await this.busy;
    await this.model?.destroy();
    const device = this.device;
    this.model = null;
    this.device = null;
    this.info = null;
    device?.destroy();
  }

  private need(): LanguageModel {
    if (!this.model) throw new Error('no model is loaded (or the GPU device was lost: create the engine again)');
    return this.model;
  }

  private needTokenizer(): Tokenizer {
    if (!this.tokenizer) throw new Error('this model folder has no tokenizer.json: pass token ids');
    return this.tokenizer;
  }
}
