import type { GenerateResult } from './generation';

/**
 * usage and timings of a generation whose prompt took promptMs (the first token comes with it) and
 * whose other tokens took predictedMs.
 */
export function measured(promptTokens: number, completionTokens: number, promptMs: number, predictedMs: number): Pick<GenerateResult, 'usage' | 'timings'> {
  const perSecond = (n: number, ms: number) => n / Math.max(1e-9, ms / 1000);
  const decoded = Math.max(0, completionTokens - 1);
  const decodeRate = decoded > 0 && predictedMs > 0 ? perSecond(decoded, predictedMs) : 0;
  return {
    usage: { promptTokens, completionTokens, prefillTokensPerSecond: perSecond(promptTokens, promptMs), decodeTokensPerSecond: decodeRate },
    timings: {
      prompt_n: promptTokens,
      prompt_ms: promptMs,
      prompt_per_second: perSecond(promptTokens, promptMs),
      predicted_n: decoded,
      predicted_ms: predictedMs,
      predicted_per_second: decodeRate,
    },
  };
}
