/**
 * One generation: prompt ids in, a stream of chunks out (token, text, reasoning, content), then a result
 * with usage. Greedy decoding samples on the GPU (one id read back per token); any other sampling reads
 * the logits row back and samples on the CPU.
 */
import { abortError } from './abort';
import { StreamingDetokenizer } from '../text/detokenizer';
import { resolveSampling, Sampler, type SamplingOptions } from '../text/sampler';
import { partialStopLength, StopMatcher } from '../text/stopStrings';
import { DEFAULT_THINKING_BUDGET, ReasoningSplitter, THINK_CLOSE, ThinkingBudget } from '../text/thinking';
import type { Tokenizer } from '../text/tokenizer';
import { parseToolCalls, TOOL_CALLS_OPEN, type ToolCall } from '../text/toolCalls';
import type { LanguageModel } from './languageModel';
import { measured } from './timings';

export interface GenerateRequest {
  /** Prompt token ids (a chat prompt is rendered and tokenized before this). */
  prompt: number[];
  /** Most tokens to generate; default 256. */
  maxTokens?: number;
  sampling?: SamplingOptions;
  /** Strings that end generation (not included in the output). */
  stop?: string[];
  /** Ids that end generation, besides generation_config.json's eos_token_id. */
  stopIds?: number[];
  /** Do not stop at generation_config.json's eos_token_id. */
  ignoreEos?: boolean;
  /** Most tokens spent inside <think> before the engine closes it; default 40000. */
  thinkingBudget?: number;
  /** The prompt itself opened <think> (some chat templates do). */
  startsInThinking?: boolean;
  /** Parse MiniMax-M1 `<tool_calls>` blocks out of the content; default true. */
  parseToolCalls?: boolean;
}

export interface GenerateChunk {
  token: number;
  /** New text (reasoning and content together, tags included). */
  text: string;
  reasoning: string;
  content: string;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** Where a generation's time went, in llama.cpp server's names (prompt: the prefill; predicted: the decode). */
export interface Timings {
  prompt_n: number;
  prompt_ms: number;
  prompt_per_second: number;
  predicted_n: number;
  predicted_ms: number;
  predicted_per_second: number;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens per second of prefill (time to the first token). */
  prefillTokensPerSecond: number;
  /** Generated tokens per second after the first. */
  decodeTokensPerSecond: number;
}

export interface GenerateResult {
  ids: number[];
  text: string;
  reasoning: string;
  content: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  timings: Timings;
}

export interface GenerationContext {
  model: LanguageModel;
  tokenizer: Tokenizer | null;
  generationConfig: unknown;
  eosIds: number[];
}


/** Greedy tokens decoded a GPU round trip (LanguageModel.greedyChains); a stop ends a chain's use early. */
const GREEDY_CHAIN = 8;

/** Resolves after the events already queued (a macrotask, without setTimeout's clamping). */
function nextEvent(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

export async function generate(
  ctx: GenerationContext,
  req: GenerateRequest,
  onChunk: (c: GenerateChunk) => void = () => {},
  signal?: AbortSignal,
): Promise<GenerateResult> {
  const { model, tokenizer } = ctx;
  const V = model.config.vocabSize;
  const asked = req.maxTokens ?? 256;
  if (!Number.isSafeInteger(asked) || asked < 0) throw new RangeError(`maxTokens must be a whole number ≥ 0, got ${asked}`);
  if (req.prompt.length === 0) throw new RangeError('the prompt has no tokens');
  // The context ends the generation ('length') where max_position_embeddings says; a prompt over it is refused before any work.
  const limit = model.config.maxPositions;
  if (limit !== null && req.prompt.length > limit) throw new RangeError(`the prompt of ${req.prompt.length} tokens is over the model's context of ${limit} (max_position_embeddings)`);
  const maxTokens = limit === null ? asked : Math.min(asked, limit - req.prompt.length);
  const sampler = new Sampler(resolveSampling(req.sampling ?? {}, ctx.generationConfig), V);
  const o = sampler.options;
  const onGpu = sampler.greedy && o.repetitionPenalty === 1 && !o.presencePenalty && !o.frequencyPenalty && !o.logitBias;
  const stopIds = new Set([...(req.ignoreEos ? [] : ctx.eosIds), ...(req.stopIds ?? [])]);
  const detok = tokenizer ? new StreamingDetokenizer(tokenizer, req.prompt) : null;
  const stops = new StopMatcher(req.stop ?? []);
  const split = new ReasoningSplitter({ startsInThinking: req.startsInThinking });
  const budget = new ThinkingBudget(req.thinkingBudget ?? DEFAULT_THINKING_BUDGET, req.startsInThinking ?? false);
  const tools = req.parseToolCalls ?? true;
  const history = [...req.prompt];
  const ids: number[] = [];
  let text = '';
  let reasoning = '';
  let content = '';
  let streamed = 0; // content already sent in chunks: stops short of a <tool_calls> block
  let forced: number[] = [];
  let chained: number[] = [];
  // Greedy chains on the GPU (model.greedyChains): the state runs a chain ahead of the tokens taken.
  let chains: AsyncGenerator<number[], void, undefined> | null = null;
  let finishReason: FinishReason = 'length';

  const emit = (token: number, delta: string) => {
    const part = split.push(delta);
    text += delta;
    reasoning += part.reasoning;
    content += part.content;
    const block = tools ? content.indexOf(TOOL_CALLS_OPEN) : -1;
    const safe = block >= 0 ? block : tools ? content.length - partialStopLength(content, [TOOL_CALLS_OPEN]) : content.length;
    const fresh = safe > streamed ? content.slice(streamed, safe) : '';
    streamed = Math.max(streamed, safe);
    if (delta || fresh || part.reasoning) onChunk({ token, text: delta, reasoning: part.reasoning, content: fresh });
  };

  await model.reset();
  const t0 = performance.now();
  let tFirst = t0;
  let feed: number[] = req.prompt;
  try {
    while (ids.length < maxTokens) {
      if (signal?.aborted) throw abortError();
      let id: number;
      if (forced.length) {
        await model.forward(feed, 'none');
        id = forced.shift()!;
      } else if (onGpu) {
        // Greedy tokens come in chains of GREEDY_CHAIN, one GPU round trip each (the first alone, so
        // the first token is not kept waiting), the next chain queued while this one is taken.
        if (!chained.length) {
          chains ??= model.greedyChains(feed, maxTokens - ids.length, GREEDY_CHAIN);
          const next = await chains.next();
          if (next.done) throw new Error('greedyChains ended before the tokens it was asked for');
          chained = next.value;
        }
        // Between a chain's tokens, let waiting events (an abort from the page) in: abort still stops
        // within one token.
        else await nextEvent();
        id = chained.shift()!;
      } else {
        id = sampler.sample(await model.forward(feed, 'last'), history);
      }
      if (ids.length === 0) tFirst = performance.now();
      if (signal?.aborted) throw abortError();
      if (stopIds.has(id) && !forced.length) {
        finishReason = 'stop';
        break;
      }
      ids.push(id);
      history.push(id);
      feed = [id];
      const piece = detok ? detok.push(id) : '';
      if (budget.step(piece) === 'close' && tokenizer) {
        forced = tokenizer.encode(THINK_CLOSE, { addSpecialTokens: false });
        chained = [];
        await chains?.return();
        chains = null;
        if (model.position !== history.length - 1) {
          // The chains ran past this token: feed the history again, up to it, before the forced tokens.
          await model.reset();
          await model.forward(history.slice(0, -1), 'none');
        }
      }
      const { emit: out, stopped } = stops.push(piece);
      emit(id, out);
      if (stopped) {
        finishReason = 'stop';
        break;
      }
    }
  } finally {
    await chains?.return();
  }
  if (finishReason !== 'stop' || !stops.stopped) {
    const tail = stops.push(detok ? detok.flush() : '');
    emit(-1, tail.emit + (tail.stopped ? '' : stops.flush()));
  }
  const last = split.flush();
  reasoning += last.reasoning;
  content += last.content;
  let toolCalls: ToolCall[] = [];
  if (tools) {
    const parsed = parseToolCalls(content);
    toolCalls = parsed.toolCalls;
    if (toolCalls.length) {
      content = parsed.content;
      finishReason = 'tool_calls';
    }
  }
  const rest = toolCalls.length ? '' : content.slice(streamed);
  if (rest || last.reasoning) onChunk({ token: -1, text: '', reasoning: last.reasoning, content: rest });
  return { ids, text, reasoning, content, toolCalls, finishReason, ...measured(req.prompt.length, ids.length, tFirst - t0, performance.now() - tFirst) };
}
