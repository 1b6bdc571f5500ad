import { createEngine, deleteModel, listModels, type Engine } from '../src/index';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const status = $('status');
const progress = $<HTMLProgressElement>('progress');
const [go, stop, cancel, loadButton] = ['go', 'stop', 'cancel', 'load'].map((id) => $<HTMLButtonElement>(id));

let engine: Engine | null = null;
let loading: AbortController | null = null;
let generating: AbortController | null = null;

function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

const mib = (n: number) => (n / 2 ** 20).toFixed(1);

async function load(): Promise<void> {
  go.disabled = true;
  loading?.abort();
  await engine?.unload();
  engine = null;
  const url = new URL(input('model').value, location.href).href;
  const budget = input('budget').value ? Number(input('budget').value) : undefined;
  loading = new AbortController();
  cancel.disabled = false;
  loadButton.disabled = true;
  progress.hidden = false;
  const t0 = performance.now();
  try {
    say(`Loading ${url} …`);
    engine = await createEngine({
      model: url,
      expertBudget: budget,
      prefetch: budget !== undefined,
      signal: loading.signal,
      onProgress: (p) => {
        progress.value = p.total ? p.loaded / p.total : 0;
        say(p.phase === 'compile' ? 'Compiling GPU pipelines…' : `${p.phase}: ${mib(p.loaded)} / ${mib(p.total)} MiB`);
      },
      onDeviceLost: (message) => {
        engine = null;
        go.disabled = true;
        say(`The GPU device was lost (${message}). Press Load to start again.`, true);
      },
    });
    const c = engine.info.config;
    const kinds = c.layerKinds.map((k) => (k === 'lightning' ? 'L' : 'S')).join('');
    say(`Ready in ${((performance.now() - t0) / 1000).toFixed(2)} s: ${c.numLayers} layers (${kinds}), ${c.numExperts} experts top-${c.expertsPerToken}, vocabulary ${c.vocabSize}.`);
    go.disabled = !engine.info.hasTokenizer;
  } catch (e) {
    say(`Could not load the model: ${(e as Error).message}`, true);
  } finally {
    progress.hidden = true;
    cancel.disabled = true;
    loadButton.disabled = false;
    void showStored();
  }
}

/** The IndexedDB store: what is there, how big, and a button to delete each. */
async function showStored(): Promise<void> {
  const list = $('stored');
  list.replaceChildren();
  for (const m of await listModels()) {
    const li = document.createElement('li');
    const del = document.createElement('button');
    del.textContent = 'Delete';
    del.addEventListener('click', () => void deleteModel(m.id).then(showStored));
    li.append(`${m.url} — ${mib(m.storedBytes)} of ${mib(m.totalBytes)} MiB${m.complete ? '' : ' (incomplete)'} `, del);
    list.append(li);
  }
}

async function generate(): Promise<void> {
  if (!engine) return;
  go.disabled = true;
  stop.disabled = false;
  generating = new AbortController();
  const out = $('out');
  const reasoning = $('reasoning');
  const ids: number[] = [];
  out.textContent = input('prompt').value;
  reasoning.textContent = '';
  $('stats').textContent = '';
  const seed = input('seed').value;
  try {
    const gen = engine.generate(input('prompt').value, {
      maxTokens: Number(input('max').value) || 32,
      sampling: { temperature: Number(input('temperature').value), seed: seed ? Number(seed) : undefined },
      signal: generating.signal,
    });
    for await (const chunk of gen) {
      if (chunk.token >= 0) ids.push(chunk.token);
      out.textContent += chunk.content;
      reasoning.textContent += chunk.reasoning;
    }
    const { usage, finishReason } = await gen.result;
    $('stats').textContent = `${usage.completionTokens} tokens (${finishReason}); prefill ${usage.prefillTokensPerSecond.toFixed(1)} tokens/s, decode ${usage.decodeTokensPerSecond.toFixed(1)} tokens/s.`;
    say('Generated.');
  } catch (e) {
    say((e as Error).name === 'AbortError' ? 'Stopped.' : `Generation failed: ${(e as Error).message}`, (e as Error).name !== 'AbortError');
  } finally {
    $('ids').textContent = ids.join(' ');
    go.disabled = false;
    stop.disabled = true;
  }
}

$('load-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void load();
});
$('gen-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void generate();
});
stop.addEventListener('click', () => generating?.abort());
cancel.addEventListener('click', () => loading?.abort());
const fromQuery = new URLSearchParams(location.search).get('model');
if (fromQuery) input('model').value = fromQuery;
void load();
