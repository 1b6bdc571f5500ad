/**
 * WGSL sources from shaders/. The one templating step: a line `#include "name.wgsl"` is replaced by
 * that file's text (shared helpers such as packed-weight decoding live in one place).
 */
const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;
const byName = new Map(Object.entries(files).map(([path, code]) => [path.slice(path.lastIndexOf('/') + 1), code]));

export function shaderSource(name: string): string {
  const code = byName.get(`${name}.wgsl`);
  if (code === undefined) throw new Error(`no shader shaders/${name}.wgsl`);
  return expand(`${name}.wgsl`, code, new Set());
}

/** Includes within includes are expanded too, each file once (a second include of it is dropped). */
function expand(file: string, code: string, seen: Set<string>): string {
  return code.replace(/^#include "([\w.]+)"$/gm, (_, inc: string) => {
    const text = byName.get(inc);
    if (text === undefined) throw new Error(`shaders/${file} includes missing ${inc}`);
    if (seen.has(inc)) return '';
    seen.add(inc);
    return expand(inc, text, seen);
  });
}
