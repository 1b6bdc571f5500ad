import { fetchSource, greedy, Model, requestGpuDevice } from '../src/index';
import { loadTokenizer, type Tokenizer } from '../src/text/tokenizer';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const out = $('out');
const idsLine = $('ids');
const go = $<HTMLButtonElement>('go');

let model: Model | null = null;
let tokenizer: Tokenizer | null = null;
let stop: number[] = [];

function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

async function load(): Promise<void> {
  go.disabled = true;
  model?.destroy();
  model = null;
  const url = new URL($<HTMLInputElement>('model').value, location.href).href;
  try {
    say(`Loading ${url} …`);
    const t0 = performance.now();
    const source = fetchSource(url);
    model = await Model.load(source, await requestGpuDevice(), {
      onProgress: (p) => say(`Uploading weights: ${(p.loaded / 2 ** 20).toFixed(1)} / ${(p.total / 2 ** 20).toFixed(1)} MiB`),
    });
    tokenizer = await loadTokenizer(source);
    const gen = JSON.parse((await source.readText('generation_config.json')) ?? '{}');
    stop = [gen.eos_token_id ?? []].flat();
    const c = model.config;
    const kinds = c.layerKinds.map((k) => (k === 'lightning' ? 'L' : 'S')).join('');
    say(`Ready in ${((performance.now() - t0) / 1000).toFixed(2)} s: ${c.numLayers} layers (${kinds}), ${c.numExperts} experts top-${c.expertsPerToken}, vocabulary ${c.vocabSize}.`);
    go.disabled = false;
  } catch (e) {
    say(`Could not load the model: ${(e as Error).message}`, true);
  }
}

async function generate(): Promise<void> {
  if (!model) return;
  go.disabled = true;
  const prompt = $<HTMLInputElement>('prompt').value;
  const max = Number($<HTMLInputElement>('max').value) || 32;
  const ids = tokenizer ? tokenizer.encode(prompt) : [1];
  const got: number[] = [];
  out.textContent = '';
  const t0 = performance.now();
  try {
    for await (const id of greedy(model, ids, max, stop)) {
      got.push(id);
      out.textContent = prompt + (tokenizer ? tokenizer.decode(got) : '');
      idsLine.textContent = got.join(' ');
    }
    const s = (performance.now() - t0) / 1000;
    say(`Generated ${got.length} tokens in ${s.toFixed(2)} s (${(got.length / s).toFixed(1)} tokens/s, prompt ${ids.length} tokens).`);
  } catch (e) {
    say(`Generation failed: ${(e as Error).message}`, true);
  } finally {
    go.disabled = false;
  }
}

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  void generate();
});
$('load').addEventListener('click', () => void load());
void load();
