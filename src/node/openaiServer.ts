/**
 * `lightmoe serve`: the engine behind an OpenAI-compatible HTTP API, as vLLM and SGLang serve one —
 * POST /v1/chat/completions and /v1/completions (JSON, or server-sent events with `data:` lines and
 * a final `data: [DONE]`), GET /v1/models. Errors are OpenAI error objects with their HTTP status.
 * Requests queue in the engine (one generation at a time); a client that goes away aborts its own.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../client/engine';
import type { ChatCompletionRequest } from '../client/openai';
import type { ChatMessage, ToolDef } from '../text/chatTemplate';
import type { GenerateOptions } from '../client/engine';
import type { FinishReason } from '../engine/generation';

export interface OpenAIServerOptions {
  engine: Engine;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** When set, every request needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Origins of web pages allowed to call it (CORS); '*' for any. Default none. */
  allowOrigins?: string[];
  /** Largest request body (default 8 MiB). */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface OpenAIServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** An OpenAI error object with its HTTP status. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status === 401 ? 'authentication_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }
}

const bad = (message: string, param: string) => new ApiError(400, message, param);

function sameKey(a: string, b: string): boolean {
  const d = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(d(a), d(b));
}

async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new ApiError(413, `the request body is over ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'the request body is not valid JSON');
  }
}

type Body = Record<string, unknown>;

/** Checks of the request fields the engine reads; anything else is ignored, as OpenAI's servers do. */
function number(b: Body, key: string, ok: (v: number) => boolean, what: string): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw bad(`${key} must be ${what}, got ${JSON.stringify(v)}`, key);
  return v;
}
const int = (min: number) => (v: number) => Number.isInteger(v) && v >= min;

function stops(b: Body): string[] {
  const v = b.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string') || list.length > 4) throw bad('stop must be a string or a list of at most 4 strings', 'stop');
  return list;
}

function common(b: Body) {
  if (b.n !== undefined && b.n !== null && b.n !== 1) throw bad('only n = 1 is supported', 'n');
  if (b.stream !== undefined && typeof b.stream !== 'boolean') throw bad('stream must be a boolean', 'stream');
  if (b.logprobs !== undefined && b.logprobs !== null && b.logprobs !== false) throw bad('logprobs are not supported', 'logprobs');
  return {
    maxTokens: number(b, 'max_completion_tokens', int(0), 'a whole number ≥ 0') ?? number(b, 'max_tokens', int(0), 'a whole number ≥ 0'),
    sampling: {
      temperature: number(b, 'temperature', (v) => v >= 0 && v <= 2, 'a number in [0, 2]'),
      topP: number(b, 'top_p', (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
      topK: number(b, 'top_k', (v) => Number.isInteger(v) && v >= -1, 'a whole number ≥ -1'),
      minP: number(b, 'min_p', (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
      presencePenalty: number(b, 'presence_penalty', (v) => v >= -2 && v <= 2, 'a number in [-2, 2]'),
      frequencyPenalty: number(b, 'frequency_penalty', (v) => v >= -2 && v <= 2, 'a number in [-2, 2]'),
      repetitionPenalty: number(b, 'repetition_penalty', (v) => v > 0, 'a number > 0'),
      seed: number(b, 'seed', Number.isSafeInteger, 'an integer'),
    },
    stop: stops(b),
    stream: b.stream === true,
    includeUsage: !!(b.stream_options as Body | undefined)?.include_usage,
    thinkingBudget: number(b, 'thinking_budget', int(0), 'a whole number ≥ 0'),
    // vLLM's extensions, which backend 'openai' sends
    ignoreEos: b.ignore_eos === true,
    stopIds: stopIds(b),
    logitBias: logitBias(b),
  };
}

function logitBias(b: Body): Record<string, number> | undefined {
  const v = b.logit_bias;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || Object.entries(v).some(([k, x]) => !/^\d+$/.test(k) || typeof x !== 'number' || !(x >= -100 && x <= 100)))
    throw bad('logit_bias must map token ids to numbers in [-100, 100]', 'logit_bias');
  return v as Record<string, number>;
}

function stopIds(b: Body): number[] | undefined {
  const v = b.stop_token_ids;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => !Number.isSafeInteger(x) || x < 0)) throw bad('stop_token_ids must be a list of token ids', 'stop_token_ids');
  return v;
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer']);

/** OpenAI messages (content as a string or a list of text parts) as the chat template takes them. */
function messages(b: Body): ChatMessage[] {
  const list = b.messages;
  if (!Array.isArray(list) || list.length === 0) throw bad('messages must be a non-empty list', 'messages');
  return list.map((m, i) => {
    const param = `messages[${i}]`;
    if (typeof m !== 'object' || m === null) throw bad(`${param} is not an object`, param);
    const { role, content } = m as Body;
    if (typeof role !== 'string' || !ROLES.has(role)) throw bad(`${param}.role must be one of system, user, assistant, tool`, `${param}.role`);
    let text: string | null;
    if (typeof content === 'string' || content === null || content === undefined) text = (content as string | null | undefined) ?? null;
    else if (Array.isArray(content) && content.every((p) => p && typeof p === 'object' && (p as Body).type === 'text' && typeof (p as Body).text === 'string'))
      text = content.map((p) => (p as Body).text as string).join('');
    else throw bad(`${param}.content must be a string or a list of text parts`, `${param}.content`);
    return { ...(m as Body), role: role === 'developer' ? 'system' : role, content: text } as ChatMessage;
  });
}

function tools(b: Body): ToolDef[] | undefined {
  const t = b.tools;
  if (t === undefined || t === null) return undefined;
  if (!Array.isArray(t) || t.some((x) => !x || (x as Body).type !== 'function' || typeof ((x as Body).function as Body | undefined)?.name !== 'string'))
    throw bad('tools must be a list of {type: "function", function: {name, …}}', 'tools');
  return t as ToolDef[];
}

export async function startOpenAIServer(opts: OpenAIServerOptions): Promise<OpenAIServer> {
  const { engine } = opts;
  const model = engine.info.id;
  const created = Math.floor(Date.now() / 1000);
  const limit = opts.maxBodyBytes ?? 8 << 20;
  const allow = new Set(opts.allowOrigins ?? []);
  const log = opts.log ?? (() => {});

  const cors = (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (origin && (allow.has('*') || allow.has(origin))) {
      res.setHeader('Access-Control-Allow-Origin', allow.has('*') ? '*' : origin);
      res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type');
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.setHeader('Vary', 'Origin');
    }
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const errorBody = (e: ApiError) => ({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });

  /**
   * Server-sent events: `data: <json>` lines, then `data: [DONE]`. The first event is awaited before
   * the headers, so a request the engine refuses gets its error status; an error after that is one
   * more event.
   */
  async function sse(res: ServerResponse, events: AsyncIterable<unknown>): Promise<void> {
    const it = events[Symbol.asyncIterator]();
    const first = await it.next();
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    try {
      for (let e = first; !e.done; e = await it.next()) res.write(`data: ${JSON.stringify(e.value)}\n\n`);
    } catch (err) {
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify(errorBody(new ApiError(500, (err as Error).message)))}\n\n`);
    }
    if (!res.destroyed) res.end('data: [DONE]\n\n');
  }

  function checkModel(b: Body): string {
    if (b.model !== undefined && b.model !== null && typeof b.model !== 'string') throw bad('model must be a string', 'model');
    if (typeof b.model === 'string' && b.model !== model) throw new ApiError(404, `The model '${b.model}' does not exist: this server serves '${model}'`, 'model', 'model_not_found');
    return model;
  }

  async function chat(b: Body, res: ServerResponse, signal: AbortSignal): Promise<void> {
    checkModel(b);
    const c = common(b);
    const req: ChatCompletionRequest = {
      ...(b as object),
      model,
      messages: messages(b),
      tools: tools(b),
      max_tokens: c.maxTokens,
      max_completion_tokens: undefined,
      stop: c.stop,
      stream: c.stream,
      logit_bias: c.logitBias,
      ignore_eos: c.ignoreEos,
      stop_token_ids: c.stopIds,
      signal,
    } as ChatCompletionRequest;
    if (!c.stream) return json(res, 200, await engine.chat.completions.create({ ...req, stream: false }));
    await sse(res, await engine.chat.completions.create({ ...req, stream: true }));
  }

  async function completions(b: Body, res: ServerResponse, signal: AbortSignal): Promise<void> {
    checkModel(b);
    const c = common(b);
    if (b.echo === true) throw bad('echo is not supported', 'echo');
    let prompt = b.prompt;
    if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
    const ids = Array.isArray(prompt) && prompt.length > 0 && prompt.every((v) => Number.isInteger(v));
    if (typeof prompt !== 'string' && !ids) throw bad('prompt must be a string or a list of token ids (one prompt a request)', 'prompt');
    const withIds = b.return_token_ids === true; // vLLM's extension: the ids of the prompt and the completion
    const gen = engine.generate(prompt as string | number[], {
      maxTokens: c.maxTokens ?? 16, // OpenAI's default for completions
      sampling: { ...c.sampling, logitBias: c.logitBias && Object.fromEntries(Object.entries(c.logitBias).map(([k, v]) => [Number(k), v])) },
      stop: c.stop,
      stopIds: c.stopIds,
      ignoreEos: c.ignoreEos,
      thinkingBudget: c.thinkingBudget,
      parseToolCalls: false,
      signal,
    } satisfies GenerateOptions);
    const id = `cmpl-${Math.random().toString(36).slice(2, 14)}`;
    const now = Math.floor(Date.now() / 1000);
    const choice = (text: string, finish: FinishReason | null, tokens?: number[]) => ({ index: 0, text, logprobs: null, finish_reason: finish, ...(withIds && tokens ? { token_ids: tokens } : {}) });
    const usage = (r: Awaited<typeof gen.result>) => ({ prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens, total_tokens: r.usage.promptTokens + r.usage.completionTokens });
    if (!c.stream) {
      const r = await gen.result;
      return json(res, 200, { id, object: 'text_completion', created: now, model, choices: [choice(r.text, r.finishReason, r.ids)], usage: usage(r) });
    }
    await sse(
      res,
      (async function* () {
        for await (const ch of gen)
          if (ch.text || ch.token >= 0) yield { id, object: 'text_completion', created: now, model, choices: [choice(ch.text, null, ch.token >= 0 ? [ch.token] : [])], ...(c.includeUsage ? { usage: null } : {}) };
        const r = await gen.result;
        yield { id, object: 'text_completion', created: now, model, choices: [choice('', r.finishReason, [])], ...(c.includeUsage ? { usage: null } : {}) };
        // As OpenAI sends it: usage in a last chunk of its own, with no choices.
        if (c.includeUsage) yield { id, object: 'text_completion', created: now, model, choices: [], usage: usage(r) };
      })(),
    );
  }

  const server = createServer(async (req, res) => {
    cors(req, res);
    const ctl = new AbortController();
    // A client gone before its answer is complete takes its generation with it.
    res.on('close', () => res.writableFinished || ctl.abort());
    try {
      if (req.method === 'OPTIONS') return void res.writeHead(204).end();
      if (opts.apiKey) {
        const auth = req.headers.authorization ?? '';
        const key = /^Bearer (.+)$/i.exec(auth)?.[1] ?? '';
        if (!sameKey(key, opts.apiKey)) throw new ApiError(401, 'a valid API key is needed: Authorization: Bearer <key>', null, 'invalid_api_key');
      }
      const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
      if (req.method === 'GET' && path === '/v1/models') return json(res, 200, { object: 'list', data: [{ id: model, object: 'model', created, owned_by: 'lightmoe' }] });
      const routes: Record<string, typeof chat> = { '/v1/chat/completions': chat, '/v1/completions': completions };
      const route = routes[path];
      if (!route) throw new ApiError(404, `no route ${req.method} ${path}`, null, 'not_found');
      if (req.method !== 'POST') throw new ApiError(405, `${path} takes POST`);
      const body = await readBody(req, limit);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the request body must be a JSON object');
      await route(body as Body, res, ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted || res.destroyed) return;
      const err = e instanceof ApiError ? e : (e as Error).name === 'RangeError' ? new ApiError(400, (e as Error).message) : new ApiError(500, (e as Error).message);
      if (err.status >= 500) log(`${req.method} ${req.url}: ${err.message}`);
      if (res.headersSent) return void res.end();
      json(res, err.status, errorBody(err));
    }
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log(`server error: ${e.message}`));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
