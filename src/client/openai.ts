/**
 * `engine.chat.completions.create`: the OpenAI Chat Completions API over the local engine, returning
 * the same objects and stream chunks, so an app can move to a serving cluster (vLLM, SGLang) by
 * changing one option. `reasoning_content` carries MiniMax-M1's <think> text, as vLLM returns it.
 */
import type { ChatMessage, ToolDef } from '../text/chatTemplate';
import type { ToolCall } from '../text/toolCalls';
import type { GenerateResult, Timings } from '../engine/generation';
import type { Engine } from './engine';

export interface ChatCompletionRequest {
  messages: ChatMessage[];
  model?: string;
  tools?: ToolDef[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  repetition_penalty?: number;
  logit_bias?: Record<string, number>;
  seed?: number;
  stop?: string | string[];
  /** lightmoe: tokens of reasoning before the engine closes </think> (default 40000). */
  thinking_budget?: number;
  /** vLLM's extensions: go on past the eos token; more ids that end the reply. */
  ignore_eos?: boolean;
  stop_token_ids?: number[];
  signal?: AbortSignal;
}

export interface ChatCompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    /** reasoning_content and reasoning (vLLM's newer name) both carry the <think> text. */
    message: { role: 'assistant'; content: string | null; refusal: null; reasoning_content?: string; reasoning?: string; tool_calls?: ToolCall[] };
    logprobs: null;
    finish_reason: GenerateResult['finishReason'];
  }[];
  usage: ChatCompletionUsage;
  /** Where the time went (prefill, decode), as llama.cpp's server gives it; vLLM's gives none. */
  timings?: Timings;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string; refusal?: null; reasoning_content?: string; reasoning?: string; tool_calls?: (ToolCall & { index: number })[] };
    logprobs: null;
    finish_reason: GenerateResult['finishReason'] | null;
  }[];
  usage?: ChatCompletionUsage | null;
  /** On the chunk with the finish_reason, as llama.cpp's server sends it. */
  timings?: Timings;
}

function usage(r: GenerateResult): ChatCompletionUsage {
  return { prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens, total_tokens: r.usage.promptTokens + r.usage.completionTokens };
}

export class ChatCompletions {
  constructor(private readonly engine: Engine) {}

  create(req: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(req: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
  async create(req: ChatCompletionRequest): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const { ids: prompt, startsInThinking } = await this.engine.chatPrompt({ messages: req.messages, tools: req.tools });
    const stop = req.stop === undefined ? [] : [req.stop].flat();
    const gen = this.engine.generate(prompt, {
      maxTokens: req.max_completion_tokens ?? req.max_tokens,
      stop,
      thinkingBudget: req.thinking_budget,
      startsInThinking,
      ignoreEos: req.ignore_eos,
      stopIds: req.stop_token_ids,
      parseToolCalls: !!req.tools?.length,
      signal: req.signal,
      sampling: {
        temperature: req.temperature,
        topP: req.top_p,
        topK: req.top_k,
        minP: req.min_p,
        presencePenalty: req.presence_penalty,
        frequencyPenalty: req.frequency_penalty,
        repetitionPenalty: req.repetition_penalty,
        logitBias: req.logit_bias && Object.fromEntries(Object.entries(req.logit_bias).map(([k, v]) => [Number(k), v])),
        seed: req.seed,
      },
    });
    const id = `chatcmpl-${Math.random().toString(36).slice(2, 14)}`;
    const created = Math.floor(Date.now() / 1000);
    const model = req.model ?? this.engine.info.id;
    if (!req.stream) {
      const r = await gen.result;
      return {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: r.toolCalls.length && !r.content.trim() ? null : r.content,
              refusal: null,
              ...(r.reasoning ? { reasoning_content: r.reasoning, reasoning: r.reasoning } : {}),
              ...(r.toolCalls.length ? { tool_calls: r.toolCalls } : {}),
            },
            logprobs: null,
            finish_reason: r.finishReason,
          },
        ],
        usage: usage(r),
        timings: r.timings,
      };
    }
    const includeUsage = !!req.stream_options?.include_usage;
    const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: ChatCompletionChunk['choices'][0]['finish_reason'] = null): ChatCompletionChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
    return (async function* () {
      // The role chunk waits for the first token, so that a request the engine refuses fails before
      // anything is sent (a server can still answer it with an error status).
      let started = false;
      const role = () => ((started = true), chunk({ role: 'assistant', content: '', refusal: null }));
      for await (const c of gen) {
        if (!started) yield role();
        const delta: ChatCompletionChunk['choices'][0]['delta'] = {};
        if (c.reasoning) delta.reasoning_content = delta.reasoning = c.reasoning;
        if (c.content) delta.content = c.content;
        if (delta.reasoning_content !== undefined || delta.content !== undefined) yield chunk(delta);
      }
      const r = await gen.result;
      if (!started) yield role();
      if (r.toolCalls.length) yield chunk({ tool_calls: r.toolCalls.map((t, index) => ({ index, ...t })) });
      yield { ...chunk({}, r.finishReason), timings: r.timings };
      if (includeUsage) yield { id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage(r) } as ChatCompletionChunk;
    })();
  }
}
