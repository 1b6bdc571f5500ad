/** Sizes and rates as the page shows them. */
export const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
export const bytes = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? mib(n) : `${(n / 1024).toFixed(1)} KiB`);
export const rate = (perSecond: number) => (perSecond > 0 && Number.isFinite(perSecond) ? `${perSecond.toFixed(1)} tok/s` : '–');
export const ms = (t: number) => (t >= 1000 ? `${(t / 1000).toFixed(2)} s` : `${Math.round(t)} ms`);

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}
