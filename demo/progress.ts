/**
 * The load's phases, a row each with its bytes and bar: download, store (IndexedDB), GPU upload,
 * pipeline compile. Rows keep their place and their last state, so the page never jumps.
 */
import type { LoadProgress } from '../src/index';
import { el, mib } from './format';

const PHASES: [LoadProgress['phase'], string][] = [
  ['fetch', 'Download'],
  ['store', 'Store'],
  ['upload', 'GPU upload'],
  ['compile', 'Compile'],
];

export class ProgressRows {
  private readonly rows = new Map<LoadProgress['phase'], { text: HTMLElement; value: HTMLElement; fill: HTMLElement }>();

  constructor(list: HTMLElement) {
    for (const [phase, name] of PHASES) {
      const text = el('span', {}, name);
      const value = el('span', {}, '–');
      const fill = el('div', { className: 'fill' });
      list.append(el('li', { id: `phase-${phase}` }, el('div', { className: 'phase' }, text, value), el('div', { className: 'track' }, fill)));
      this.rows.set(phase, { text, value, fill });
    }
  }

  /** A new load: every row waits. */
  reset(): void {
    for (const r of this.rows.values()) this.set(r, 0, '–', false);
  }

  update(p: LoadProgress): void {
    const r = this.rows.get(p.phase)!;
    const f = p.total ? p.loaded / p.total : 0;
    this.set(r, f, p.phase === 'compile' ? (f >= 1 ? 'done' : 'compiling…') : `${mib(p.loaded)} / ${mib(p.total)}`, f >= 1);
  }

  /** After a successful load: the phases that had nothing to do say why. */
  finish(fromStore: boolean): void {
    for (const [phase] of PHASES) {
      const r = this.rows.get(phase)!;
      if (r.value.textContent === '–') this.set(r, 1, phase === 'fetch' || phase === 'store' ? (fromStore ? 'from IndexedDB' : 'not needed') : 'done', true);
    }
  }

  private set(r: { value: HTMLElement; fill: HTMLElement }, f: number, text: string, done: boolean): void {
    r.fill.style.width = `${Math.round(Math.min(1, f) * 100)}%`;
    r.value.textContent = text;
    r.value.classList.toggle('done', done);
  }
}
