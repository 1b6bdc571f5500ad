/**
 * The demo page: pick and load a model (progress by phase, cancel), chat with it (reasoning apart, tool
 * calls, Stop), tune sampling, and watch the runtime: speed, GPU memory, the expert cache per layer.
 * The engine runs in its Web Worker; this thread only draws.
 */
import './style.css';
import { createEngine, type ChatMessage, type Engine, type ModelSpec, type ShardSpec, type ToolDef } from '../src/index';
import { ms } from './format';
import { DEFAULT_MODEL, servedModels, showStored } from './models';
import { ProgressRows } from './progress';
import { StatsPanel, type Speed } from './statsPanel';
import { Transcript, type AssistantTurn } from './transcript';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const [load, folder, cancel, send, stop, newChat] = ['load', 'folder', 'cancel', 'go', 'stop', 'new-chat'].map((id) => $<HTMLButtonElement>(id));
const status = $('status');
const progress = new ProgressRows($('progress'));
const stats = new StatsPanel();
const transcript = new Transcript($('transcript'));

const WEATHER: ToolDef = {
  type: 'function',
  function: { name: 'get_weather', description: 'The weather now in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

let engine: Engine | null = null;
let loading: AbortController | null = null;
let generating: { ctl: AbortController; done: Promise<void> } | null = null;
let messages: ChatMessage[] = [];

function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

/** A problem the page cannot get past by itself, with the one thing to do about it. */
function banner(text: string | null, action?: { label: string; run: () => void }): void {
  $('banner').hidden = text === null;
  $('banner-text').textContent = text ?? '';
  const b = $<HTMLButtonElement>('banner-action');
  b.hidden = !action;
  if (action) {
    b.textContent = action.label;
    b.onclick = action.run;
  }
}

/** A number field's value, or undefined when it is blank. */
function num(id: string): number | undefined {
  const v = input(id).value.trim();
  return v === '' ? undefined : Number(v);
}

function explain(e: unknown): string {
  const err = e as Error;
  switch (err.name) {
    case 'AbortError':
      return 'Load cancelled. What was downloaded stays stored: Load again resumes from there.';
    case 'NoAdapterError':
      return `This browser cannot run lightmoe here: ${err.message}`;
    case 'StorageFullError':
      return `${err.message}. Delete a stored model below, or load with less.`;
    case 'ConfigError':
    case 'CheckpointError':
      return `This model folder cannot be used: ${err.message}`;
    default:
      return `Could not load the model: ${err.message}`;
  }
}

async function stopGenerating(): Promise<void> {
  generating?.ctl.abort();
  await generating?.done;
}

/** The Remote shards box: `ws://host:port token` a line. */
function shardsOf(text: string): ShardSpec[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const [url, token, ...rest] = line.split(/\s+/);
      if (!/^wss?:\/\//.test(url) || !token || rest.length) throw new RangeError(`Remote shards: "${line}" is not "ws://host:port token"`);
      return { url, token };
    });
}

async function loadModel(spec: ModelSpec, label: string): Promise<void> {
  let shards: ShardSpec[];
  try {
    shards = shardsOf($<HTMLTextAreaElement>('shards').value);
  } catch (err) {
    return say((err as Error).message, true);
  }
  await stopGenerating();
  loading?.abort();
  const ctl = (loading = new AbortController());
  send.disabled = true;
  load.disabled = folder.disabled = true;
  cancel.disabled = false;
  const old = engine;
  engine = null;
  await old?.unload().catch(() => {}); // a lost device or a dead worker has nothing left to free
  stats.setModel(null);
  progress.reset();
  banner(null);
  const budget = num('budget');
  const quantize = $<HTMLSelectElement>('quantize').value as '' | 'int8' | 'int4';
  let fetched = false;
  const t0 = performance.now();
  say(`Loading ${label} …`);
  try {
    const e = await createEngine({
      model: spec,
      expertBudget: budget === undefined || budget >= 100 ? undefined : budget / 100,
      prefetch: budget !== undefined && budget < 100,
      quantize: quantize || undefined,
      devices: num('devices'),
      shards: shards.length ? shards : undefined,
      signal: ctl.signal,
      onProgress: (p) => {
        fetched ||= p.phase === 'fetch';
        progress.update(p);
        say(`Loading ${label}: ${p.phase === 'fetch' ? 'downloading' : p.phase === 'store' ? 'storing in IndexedDB' : p.phase === 'upload' ? 'uploading to the GPU' : 'compiling GPU pipelines'} …`);
      },
      onDeviceLost: (message) => {
        // The lost engine's worker is let go, or it would live on beside the next one.
        const lost = engine;
        engine = null;
        void lost?.unload().catch(() => {});
        send.disabled = true;
        say('The GPU device was lost.', true);
        banner(`The GPU device was lost (${message}). The page is fine: reload the engine to go on.`, { label: 'Reload the engine', run: () => void loadModel(spec, label) });
      },
    });
    if (ctl !== loading) return void e.unload(); // another Load started meanwhile
    engine = e;
    progress.finish(typeof spec === 'string' && !fetched);
    const c = e.info.config;
    const kinds = c.layerKinds.map((k) => (k === 'lightning' ? 'L' : 'S')).join('');
    say(`Ready in ${ms(performance.now() - t0)}: ${c.numLayers} layers (${kinds}), ${c.numExperts} experts top-${c.expertsPerToken}, vocabulary ${c.vocabSize}.`);
    $('mode-note').textContent = !e.info.hasTokenizer
      ? 'This model folder has no tokenizer: there is nothing to chat with.'
      : e.info.hasChatTemplate
        ? ''
        : 'This model has no chat template: each message is the start of a text it continues.';
    send.disabled = !e.info.hasTokenizer;
    stats.setModel(e.info);
    void e.stats().then((s) => stats.show(s), () => {});
  } catch (err) {
    if (ctl !== loading) return;
    const name = (err as Error).name;
    say(explain(err), name !== 'AbortError');
    if (name === 'NoAdapterError') banner(explain(err));
  } finally {
    if (ctl === loading) {
      loading = null;
      cancel.disabled = true;
      load.disabled = folder.disabled = false;
      void refreshStored();
    }
  }
}

function refreshStored(): Promise<void> {
  return showStored($('stored'), $('quota'), () => void refreshStored());
}

/** One reply: through the chat API when the model has a chat template, as a text continuation when not. */
async function reply(text: string): Promise<void> {
  const e = engine;
  if (!e || generating) return;
  const ctl = new AbortController();
  let finished!: () => void;
  generating = { ctl, done: new Promise((r) => (finished = r)) };
  send.disabled = true;
  stop.disabled = false;
  const chat = e.info.hasChatTemplate;
  transcript.user(text);
  const turn = transcript.assistant(chat ? undefined : text);
  const t0 = performance.now();
  let first = 0;
  let last = 0;
  let tokens = 0;
  const speed = (): Speed => ({
    completionTokens: tokens,
    firstTokenMs: first ? first - t0 : undefined,
    decodePerSecond: tokens > 1 ? ((tokens - 1) * 1000) / Math.max(1, last - first) : 0,
  });
  const onToken = (reasoning: string, content: string) => {
    last = performance.now();
    first ||= last;
    tokens++;
    turn.add(reasoning, content);
    transcript.scroll();
  };
  const poll = setInterval(() => {
    stats.showSpeed(speed());
    void e.stats().then((s) => stats.show(s), () => {});
  }, 250);
  say('Generating…');
  const sampling = { temperature: num('temperature'), top_p: num('top-p'), seed: num('seed') };
  const maxTokens = num('max') ?? 128;
  const thinkingBudget = num('thinking');
  try {
    let result: Speed;
    if (chat) {
      messages.push({ role: 'user', content: text });
      result = await chatTurn(e, turn, { maxTokens, thinkingBudget, sampling, signal: ctl.signal }, onToken);
      messages.push({ role: 'assistant', content: turn.text });
    } else {
      const gen = e.generate(text, { maxTokens, thinkingBudget, signal: ctl.signal, sampling: { temperature: sampling.temperature, topP: sampling.top_p, seed: sampling.seed } });
      for await (const c of gen) onToken(c.reasoning, c.content);
      const r = await gen.result;
      turn.toolCalls(r.toolCalls);
      result = { promptTokens: r.usage.promptTokens, completionTokens: r.usage.completionTokens, prefillPerSecond: r.usage.prefillTokensPerSecond, decodePerSecond: r.usage.decodeTokensPerSecond, firstTokenMs: first - t0 };
      turn.done(`${r.usage.completionTokens} tokens · ${r.finishReason}`);
    }
    stats.showSpeed(result);
    say('Generated.');
  } catch (err) {
    stats.showSpeed(speed());
    if ((err as Error).name === 'AbortError') {
      turn.done(`${tokens} tokens · stopped`);
      if (chat) messages.push({ role: 'assistant', content: turn.text });
      say('Stopped.');
    } else {
      // The chat goes on without the turn that failed: templates want user and assistant in turn.
      if (chat && messages.at(-1)?.role === 'user') messages.pop();
      turn.done(`Generation failed: ${(err as Error).message}`, true);
      say(`Generation failed: ${(err as Error).message}`, true);
    }
  } finally {
    clearInterval(poll);
    void e.stats().then((s) => stats.show(s), () => {});
    generating = null;
    finished();
    stop.disabled = true;
    send.disabled = engine !== e;
  }
}

interface TurnOptions {
  maxTokens: number;
  thinkingBudget?: number;
  sampling: { temperature?: number; top_p?: number; seed?: number };
  signal: AbortSignal;
}

async function chatTurn(e: Engine, turn: AssistantTurn, o: TurnOptions, onToken: (reasoning: string, content: string) => void): Promise<Speed> {
  const stream = await e.chat.completions.create({
    messages,
    tools: input('tools').checked ? [WEATHER] : undefined,
    max_tokens: o.maxTokens,
    thinking_budget: o.thinkingBudget,
    ...o.sampling,
    stream: true,
    stream_options: { include_usage: true },
    signal: o.signal,
  });
  let finish = '';
  let speed: Speed = { completionTokens: 0, decodePerSecond: 0 };
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (choice?.delta.reasoning_content || choice?.delta.content) onToken(choice.delta.reasoning_content ?? '', choice.delta.content ?? '');
    if (choice?.delta.tool_calls) turn.toolCalls(choice.delta.tool_calls);
    if (choice?.finish_reason) finish = choice.finish_reason;
    const t = chunk.timings;
    if (t) speed = { promptTokens: t.prompt_n, completionTokens: t.predicted_n + 1, prefillPerSecond: t.prompt_per_second, decodePerSecond: t.predicted_per_second, firstTokenMs: t.prompt_ms };
    if (chunk.usage) speed.completionTokens = chunk.usage.completion_tokens;
  }
  turn.done(`${speed.completionTokens} tokens · ${finish}`);
  return speed;
}

// Wiring.
$('load-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const url = new URL(input('model').value || DEFAULT_MODEL, location.href).href;
  void loadModel(url, url);
});
cancel.addEventListener('click', () => loading?.abort());
folder.addEventListener('click', async () => {
  // The directory picker where there is one (Chromium); a folder file input elsewhere.
  const pick = (window as { showDirectoryPicker?: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker;
  if (!pick) return input('folder-files').click();
  try {
    const dir = await pick.call(window);
    void loadModel(dir, `folder ${dir.name}`);
  } catch {
    // the user closed the picker
  }
});
input('folder-files').addEventListener('change', () => {
  const files = [...(input('folder-files').files ?? [])];
  if (files.length) void loadModel(files, `folder ${files[0].webkitRelativePath.split('/')[0] || 'picked'}`);
});
$('model-select').addEventListener('change', () => {
  const v = $<HTMLSelectElement>('model-select').value;
  $('url-label').hidden = v !== '';
  if (v) input('model').value = v;
  noteModel();
});
$('gen-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $<HTMLTextAreaElement>('message').value;
  if (!text.trim() || send.disabled) return;
  $<HTMLTextAreaElement>('message').value = '';
  void reply(text);
});
$('message').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $<HTMLFormElement>('gen-form').requestSubmit();
  }
});
stop.addEventListener('click', () => generating?.ctl.abort());
newChat.addEventListener('click', async () => {
  await stopGenerating();
  messages = [];
  transcript.clear();
  say(engine ? 'New chat.' : status.textContent ?? '');
});
$('theme').addEventListener('click', () => {
  const dark = document.documentElement.dataset.theme ? document.documentElement.dataset.theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = dark ? 'light' : 'dark';
  localStorage.setItem('lightmoe-theme', document.documentElement.dataset.theme);
});
const theme = localStorage.getItem('lightmoe-theme');
if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;

function noteModel(): void {
  const url = new URL(input('model').value || DEFAULT_MODEL, location.href);
  $('model-note').textContent =
    url.pathname === DEFAULT_MODEL && url.origin === location.origin
      ? 'The embedded default model has the MiniMax-M1 architecture at toy size, with random weights: it shows the runtime at work, and its text is noise. For a real little story, put a trained model folder under public/models/ (see the README).'
      : '';
}

async function start(): Promise<void> {
  const select = $<HTMLSelectElement>('model-select');
  const served = await servedModels();
  const fromQuery = new URLSearchParams(location.search).get('model');
  select.replaceChildren(...served.map((m) => new Option(m.id === 'default' ? 'default (random weights)' : m.id, m.url)), new Option('Another folder URL…', ''));
  const initial = fromQuery ?? served[0]?.url ?? DEFAULT_MODEL;
  input('model').value = initial;
  select.value = served.some((m) => m.url === initial) ? initial : '';
  $('url-label').hidden = select.value !== '';
  noteModel();
  void refreshStored();
  const url = new URL(initial, location.href).href;
  await loadModel(url, url);
}
void start();
