/**
 * The live panel: speed of the last (or running) generation, GPU memory by kind, the expert cache's
 * hit rate as a heatmap over layers × experts, bytes streamed, and where each layer runs.
 */
import type { ModelInfo, ModelStats } from '../src/index';
import { bytes, el, ms, rate } from './format';

export interface Speed {
  promptTokens?: number;
  completionTokens: number;
  prefillPerSecond?: number;
  decodePerSecond: number;
  firstTokenMs?: number;
}

const $ = (id: string) => document.getElementById(id)!;

function bar(percent: number): HTMLElement {
  const fill = el('div', { className: 'fill' });
  fill.style.width = `${percent}%`;
  return fill;
}

export class StatsPanel {
  private cells: HTMLElement[][] = [];

  showSpeed(s: Speed): void {
    $('s-prefill').textContent = s.prefillPerSecond === undefined ? '–' : rate(s.prefillPerSecond);
    $('s-decode').textContent = rate(s.decodePerSecond);
    $('s-ttft').textContent = s.firstTokenMs === undefined ? '–' : ms(s.firstTokenMs);
    $('s-tokens').textContent = s.promptTokens === undefined ? `${s.completionTokens} out` : `${s.promptTokens} in, ${s.completionTokens} out`;
  }

  /** A new model: the heatmap gets a row a layer and a column an expert. */
  setModel(info: ModelInfo | null): void {
    const map = $('heatmap');
    map.replaceChildren();
    this.cells = [];
    if (!info) return;
    const { numLayers: L, numExperts: E, layerKinds } = info.config;
    map.style.gridTemplateColumns = `1.4rem repeat(${E}, minmax(0, 1fr))`;
    for (let l = 0; l < L; l++) {
      map.append(el('span', { className: 'label', title: `layer ${l} (${layerKinds[l]})` }, `${layerKinds[l] === 'lightning' ? 'L' : 'S'}${l}`));
      this.cells.push(Array.from({ length: E }, (_, e) => map.appendChild(el('div', { className: 'cell', title: `layer ${l}, expert ${e}: not used yet` }))));
    }
  }

  show(s: ModelStats): void {
    const m = s.memory;
    const parts: [string, number][] = [
      ['weights', m.weights],
      ['expert cache', m.expertCache],
      ['KV cache', m.kv],
      ['lightning state', m.state],
      ['scratch', m.scratch],
    ];
    const top = Math.max(m.peak, 1);
    $('s-memory').replaceChildren(
      ...parts.map(([name, n]) => el('div', { className: 'bar-row' }, el('span', {}, name), el('div', { className: 'track' }, bar((100 * n) / top)), el('span', { className: 'num' }, bytes(n)))),
      el('div', { className: 'bar-row' }, el('b', {}, 'in use'), el('span', { className: 'note' }, `peak ${bytes(m.peak)}`), el('b', { className: 'num' }, bytes(m.total))),
    );
    const x = s.experts;
    $('heatmap').hidden = $('heatmap-legend').hidden = !x;
    if (!x) {
      $('s-experts').textContent = 'Every expert is resident on the GPU: no cache to miss. Set an expert cache below 100% and Load to stream them from IndexedDB.';
      for (const row of this.cells) for (const c of row) (c.style.background = ''), c.classList.remove('resident');
    } else {
      const uses = x.hits + x.misses;
      const prefetch = x.predicted ? `, prefetch precision ${((100 * x.predictedUsed) / x.predicted).toFixed(0)}%` : '';
      $('s-experts').textContent = `Cache of ${x.slotsPerLayer} experts a layer: hit rate ${uses ? ((100 * x.hits) / uses).toFixed(1) : '–'}% of ${uses} uses${prefetch}; ${bytes(x.bytesStreamed)} streamed from storage, ${ms(x.stallMs)} waiting for it.`;
      this.cells.forEach((row, l) =>
        row.forEach((c, e) => {
          const h = x.layerHits[l]?.[e] ?? 0;
          const n = h + (x.layerMisses[l]?.[e] ?? 0);
          // Hue from red (always missed) to green (always hit); lightness by how much the expert is used.
          c.style.background = n ? `hsl(${Math.round((120 * h) / n)} 70% ${Math.round(62 - 22 * Math.min(1, n / 16))}%)` : '';
          c.classList.toggle('resident', !!x.resident[l]?.[e]);
          c.title = n ? `layer ${l}, expert ${e}: ${h} of ${n} uses hit (${((100 * h) / n).toFixed(0)}%)${x.resident[l]?.[e] ? ', resident' : ''}` : `layer ${l}, expert ${e}: not used yet`;
        }),
      );
    }
    $('s-placement').replaceChildren(...s.placement.map((p) => el('li', {}, el('span', {}, p.to - p.from === 1 ? `layer ${p.from}` : `layers ${p.from}–${p.to - 1}`), el('span', {}, p.where))));
  }
}
