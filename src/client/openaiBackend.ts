/**
 * `createEngine({ backend: 'openai', baseURL, apiKey, model })`: the Engine API over any
 * OpenAI-compatible server — `lightmoe serve`, or vLLM / SGLang serving the full MiniMax-M1 — so an app
 * moves from the in-browser model to a cluster by changing one option. generate() goes to
 * /completions (text, or token ids), chat.completions.create() to /chat/completions, both streamed as
 * server-sent events; reasoning and tool calls are split out of the text as the local engine does.
 */
import { abortError } from '../engine/abort';
import type { FinishReason, GenerateChunk, GenerateResult } from '../engine/generation';
import { measured } from '../engine/timings';
import { ReasoningSplitter } from '../text/thinking';
import { parseToolCalls, TOOL_CALLS_OPEN, type ToolCall } from '../text/toolCalls';
import type { GenerateOptions, Generation } from './engine';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from './openai';
import { generation } from './generationStream';

export interface OpenAIEngineOptions {
  backend: 'openai';
  /** The API's base URL, e.g. `http://localhost:8000/v1`. */
  baseURL: string;
  apiKey?: string;
  /** The served model's id (GET /models lists them). */
  model: string;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** An OpenAI error object the server answered with, and its HTTP status. */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string | null = null,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'OpenAIError';
  }
}

export interface RemoteModelInfo {
  id: string;
  /** The server's base URL. */
  name: string;
  backend: 'openai';
}

/** `data:` events of a server-sent event stream, until `[DONE]` (a stream cut before it is an error). */
async function* events(body: ReadableStream<Uint8Array>, url: string): AsyncGenerator<Record<string, unknown>> {
  const reader = body.getReader();
  const utf8 = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // The last event may lack its blank line.
      if (done) buf += '\n\n';
      else buf += utf8.decode(value, { stream: true });
      let end: number;
      while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end).replace(/^\r?\n\r?\n/, '');
        const data = event
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (!data) continue;
        if (data === '[DONE]') return;
        const v = JSON.parse(data) as Record<string, unknown>;
        const err = v.error as Record<string, unknown> | undefined;
        if (err) throw new OpenAIError(500, String(err.message ?? 'error'), (err.type as string) ?? null, (err.code as string) ?? null);
        yield v;
      }
      if (done) throw new Error(`${url}: the event stream ended before [DONE]`);
    }
  } finally {
    // A consumer that stops early (break) cancels the response: the server stops generating.
    await reader.cancel().catch(() => {});
  }
}

export class OpenAIEngine {
  readonly info: RemoteModelInfo;
  readonly chat: { completions: { create: OpenAIEngine['createChat'] } };
  private readonly base: string;
  private readonly running = new Set<AbortController>();

  private constructor(private readonly opts: OpenAIEngineOptions) {
    this.base = opts.baseURL.replace(/\/+$/, '');
    this.info = { id: opts.model, name: this.base, backend: 'openai' };
    this.chat = { completions: { create: this.createChat.bind(this) as OpenAIEngine['createChat'] } };
  }

  /** Checks that the server answers, takes the key and serves the model. */
  static async connect(opts: OpenAIEngineOptions): Promise<OpenAIEngine> {
    if (!opts.baseURL) throw new TypeError("backend 'openai' needs baseURL (e.g. http://localhost:8000/v1)");
    if (!opts.model) throw new TypeError("backend 'openai' needs model: the served model's id");
    const e = new OpenAIEngine(opts);
    const r = await e.request('GET', '/models', undefined, opts.signal);
    const list = ((await r.json()) as { data?: { id: string }[] }).data ?? [];
    if (!list.some((m) => m.id === opts.model))
      throw new OpenAIError(404, `${e.base} does not serve model '${opts.model}'; it serves ${list.map((m) => `'${m.id}'`).join(', ') || 'none'}`, 'invalid_request_error', 'model_not_found', 'model');
    return e;
  }

  private async request(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { ...this.opts.headers };
    if (this.opts.apiKey) headers.Authorization = `Bearer ${this.opts.apiKey}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let r: Response;
    try {
      r = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new Error(`${this.base}${path}: ${(e as Error).message} (is the server up, and, for a web page, does it allow this page's origin?)`, { cause: e });
    }
    if (!r.ok) {
      const text = await r.text();
      let err: Record<string, unknown> = {};
      try {
        err = (JSON.parse(text) as { error?: Record<string, unknown> }).error ?? {};
      } catch {
        // not an OpenAI error object
      }
      throw new OpenAIError(r.status, `${this.base}${path}: HTTP ${r.status}: ${String(err.message ?? (text.slice(0, 200) || r.statusText))}`, (err.type as string) ?? null, (err.code as string) ?? null, (err.param as string) ?? null);
    }
    return r;
  }

  /** A request that unload() aborts, and the caller's signal too; `done` forgets it. */
  private controller(signal?: AbortSignal): { ctl: AbortController; done: () => void } {
    const ctl = new AbortController();
    this.running.add(ctl);
    const onAbort = () => ctl.abort();
    if (signal?.aborted) ctl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    return { ctl, done: () => (this.running.delete(ctl), signal?.removeEventListener('abort', onAbort)) };
  }

  /** The OpenAI Chat Completions API of the server, as the local engine's. */
  createChat(req: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
  createChat(req: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
  async createChat(req: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const { signal, ...body } = req;
    const { ctl, done } = this.controller(signal);
    let streaming = false;
    try {
      const r = await this.request('POST', '/chat/completions', { ...body, model: req.model ?? this.opts.model }, ctl.signal);
      if (!req.stream) return (await r.json()) as ChatCompletion;
      streaming = true;
      const url = this.base + '/chat/completions';
      return (async function* () {
        try {
          for await (const e of events(r.body!, url)) yield e as unknown as ChatCompletionChunk;
        } finally {
          done();
        }
      })();
    } finally {
      if (!streaming) done();
    }
  }

  /** Generates from a text prompt (the server tokenizes it) or token ids, through /completions. */
  generate(prompt: string | number[], opts: GenerateOptions = {}): Generation {
    const { signal, onToken, sampling = {}, ...req } = opts;
    return generation(async (emit) => {
      const { ctl, done } = this.controller(signal);
      const s = sampling;
      const body = Object.fromEntries(
        Object.entries({
          model: this.opts.model,
          prompt,
          max_tokens: req.maxTokens ?? 256,
          temperature: s.temperature,
          top_p: s.topP,
          top_k: s.topK,
          min_p: s.minP,
          presence_penalty: s.presencePenalty,
          frequency_penalty: s.frequencyPenalty,
          repetition_penalty: s.repetitionPenalty,
          logit_bias: s.logitBias,
          seed: s.seed,
          stop: req.stop?.length ? req.stop : undefined,
          stop_token_ids: req.stopIds?.length ? req.stopIds : undefined, // vLLM's extension, as ignore_eos
          ignore_eos: req.ignoreEos || undefined,
          thinking_budget: req.thinkingBudget,
          stream: true,
          stream_options: { include_usage: true },
          return_token_ids: true,
        }).filter(([, v]) => v !== undefined),
      );
      const t0 = performance.now();
      let tFirst = 0;
      const split = new ReasoningSplitter({ startsInThinking: req.startsInThinking });
      const tools = req.parseToolCalls ?? true;
      const ids: number[] = [];
      let text = '';
      let reasoning = '';
      let content = '';
      let streamed = 0;
      let finishReason: FinishReason = 'length';
      let usage = { promptTokens: typeof prompt === 'string' ? 0 : prompt.length, completionTokens: 0 };
      const push = (token: number, delta: string, part: { reasoning: string; content: string }) => {
        text += delta;
        reasoning += part.reasoning;
        content += part.content;
        // Content inside a <tool_calls> block is held back, as the local engine does.
        const block = tools ? content.indexOf(TOOL_CALLS_OPEN) : -1;
        const safe = block >= 0 ? block : content.length;
        const fresh = safe > streamed ? content.slice(streamed, safe) : '';
        streamed = Math.max(streamed, safe);
        if (delta || fresh || part.reasoning) {
          const c: GenerateChunk = { token, text: delta, reasoning: part.reasoning, content: fresh };
          onToken?.(c);
          emit(c);
        }
      };
      try {
        const r = await this.request('POST', '/completions', body, ctl.signal);
        for await (const e of events(r.body!, this.base + '/completions')) {
          const choice = (e.choices as Record<string, unknown>[] | undefined)?.[0];
          if (e.usage) {
            const u = e.usage as { prompt_tokens: number; completion_tokens: number };
            usage = { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens };
          }
          if (!choice) continue;
          const tokens = (choice.token_ids as number[] | undefined) ?? [];
          ids.push(...tokens);
          const delta = String(choice.text ?? '');
          if (delta && !tFirst) tFirst = performance.now();
          if (delta || tokens.length) push(tokens.length === 1 ? tokens[0] : -1, delta, split.push(delta));
          if (choice.finish_reason) finishReason = choice.finish_reason === 'length' ? 'length' : 'stop';
        }
      } catch (e) {
        if (ctl.signal.aborted) throw abortError('generation');
        throw e;
      } finally {
        done();
      }
      const last = split.flush();
      if (last.reasoning || last.content) push(-1, '', last);
      let toolCalls: ToolCall[] = [];
      if (tools) {
        const parsed = parseToolCalls(content);
        if (parsed.toolCalls.length) {
          toolCalls = parsed.toolCalls;
          content = parsed.content;
          finishReason = 'tool_calls';
        }
      }
      const t1 = performance.now();
      const n = usage.completionTokens || ids.length;
      // The prompt's time includes the server's queue and the network.
      const timing = measured(usage.promptTokens, n, (tFirst || t1) - t0, tFirst ? t1 - tFirst : 0);
      return { ids, text, reasoning, content, toolCalls, finishReason, ...timing } satisfies GenerateResult;
    });
  }

  /** The OpenAI API gives no logits. */
  async logits(_ids: number[]): Promise<Float32Array> {
    throw new Error(`logits: ${this.base} is an OpenAI API, which gives no logits; load the model locally to score`);
  }

  /** The OpenAI API has no tokenizer endpoint: the server tokenizes the prompts it is sent. */
  async encode(_text: string): Promise<number[]> {
    throw new Error(`encode: ${this.base} is an OpenAI API, which has no tokenizer endpoint; send text prompts`);
  }

  async decode(_ids: number[]): Promise<string> {
    throw new Error(`decode: ${this.base} is an OpenAI API, which has no tokenizer endpoint`);
  }

  /** Aborts every request in flight. */
  async unload(): Promise<void> {
    for (const c of this.running) c.abort();
    this.running.clear();
  }
}
