/** Lightning attention decay rates (MODEL.md §4.3.2). */

/** ALiBi slopes for n heads, with the interleaving rule for head counts that are not powers of two. */
export function alibiSlopes(n: number): number[] {
  const pow2 = (m: number) => Array.from({ length: m }, (_, i) => 2 ** ((-8 * (i + 1)) / m));
  if ((n & (n - 1)) === 0) return pow2(n);
  const p = 2 ** Math.floor(Math.log2(n));
  return [...pow2(p), ...alibiSlopes(2 * p).filter((_, i) => i % 2 === 0).slice(0, n - p)];
}

/** λ for every head of lightning layer `layer` (global index, softmax layers count) of `numLayers`. */
export function lightningDecays(layer: number, numLayers: number, numHeads: number): number[] {
  const depth = numLayers <= 1 ? 1 + 1e-5 : 1 - layer / (numLayers - 1) + 1e-5;
  return alibiSlopes(numHeads).map((s) => s * depth);
}
