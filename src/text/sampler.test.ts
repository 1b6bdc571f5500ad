import { describe, expect, it } from 'vitest';
import { Sampler, nucleusIds, resolveSampling, type SamplingOptions } from './sampler';

const logits = (...v: number[]) => Float32Array.from(v);

function softmax(v: number[], t = 1): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp((x - m) / t));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/** Empirical frequencies of `draws` samples. */
function frequencies(s: Sampler, l: Float32Array, draws: number, history: number[] = []): number[] {
  const f = new Array<number>(l.length).fill(0);
  for (let i = 0; i < draws; i++) f[s.sample(l, history)]++;
  return f.map((c) => c / draws);
}

/** Ids that ever come out of `draws` samples. */
function support(opts: SamplingOptions, l: Float32Array, draws = 2000): number[] {
  const s = new Sampler({ seed: 1, ...opts }, l.length);
  const seen = new Set<number>();
  for (let i = 0; i < draws; i++) seen.add(s.sample(l, []));
  return [...seen].sort((a, b) => a - b);
}

describe('resolveSampling', () => {
  it('uses MiniMax-M1 recommendations when generation_config gives nothing', () => {
    expect(resolveSampling({}, null)).toEqual({
      temperature: 1, topP: 0.95, topK: 0, minP: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0,
    });
  });
  it('takes generation_config fields, and the user over them', () => {
    const gc = { temperature: 0.6, top_p: 0.9, top_k: 20, min_p: 0.05, repetition_penalty: 1.1 };
    expect(resolveSampling({}, gc)).toMatchObject({ temperature: 0.6, topP: 0.9, topK: 20, minP: 0.05, repetitionPenalty: 1.1 });
    expect(resolveSampling({ temperature: 0.2, topK: 0, seed: 5 }, gc)).toMatchObject({ temperature: 0.2, topP: 0.9, topK: 0, seed: 5 });
  });
  it('treats do_sample: false as greedy unless the user sets a temperature', () => {
    expect(resolveSampling({}, { do_sample: false, temperature: 0.7 }).temperature).toBe(0);
    expect(resolveSampling({ temperature: 0.5 }, { do_sample: false }).temperature).toBe(0.5);
  });
  it('rejects bad options naming the option', () => {
    const bad: [SamplingOptions, RegExp][] = [
      [{ temperature: -1 }, /^temperature must be ≥ 0/],
      [{ temperature: NaN }, /^temperature must be ≥ 0/],
      [{ topP: 0 }, /^topP must be in \(0, 1\]/],
      [{ topP: 1.5 }, /^topP must be in \(0, 1\]/],
      [{ topK: -1 }, /^topK must be an integer ≥ 0/],
      [{ topK: 2.5 }, /^topK must be an integer ≥ 0/],
      [{ minP: 2 }, /^minP must be in \[0, 1\]/],
      [{ repetitionPenalty: 0 }, /^repetitionPenalty must be > 0/],
      [{ presencePenalty: Infinity }, /^presencePenalty must be a finite number/],
      [{ frequencyPenalty: NaN }, /^frequencyPenalty must be a finite number/],
      [{ seed: NaN }, /^seed must be a finite number/],
      [{ logitBias: { [-1]: 5 } }, /^logitBias key "-1" is not a token id/],
      [{ logitBias: { 3: Infinity } }, /^logitBias\[3\] must be a finite number or -Infinity/],
    ];
    for (const [opts, msg] of bad) expect(() => resolveSampling(opts, null), JSON.stringify(opts)).toThrow(msg);
    expect(() => resolveSampling({}, { top_p: 0 })).toThrow(/^topP/);
    expect(() => new Sampler({ logitBias: { 10: 1 } }, 4)).toThrow(/^logitBias key "10" is not a token id in \[0, 4\)/);
    expect(() => new Sampler({}, 0)).toThrow(/^vocabSize/);
  });
});

describe('Sampler', () => {
  it('is greedy at temperature 0: argmax, first index on ties', () => {
    const s = new Sampler({ temperature: 0 }, 5);
    expect(s.greedy).toBe(true);
    expect(s.sample(logits(1, 3, 2, 3, -1), [])).toBe(1);
    expect(s.sample(logits(-Infinity, NaN, -5, -7, -6), [])).toBe(2);
  });

  it('ignores padding past the vocabulary and rejects short rows', () => {
    const s = new Sampler({ temperature: 0 }, 3);
    expect(s.sample(logits(0, 1, 0, 99), [])).toBe(1);
    expect(() => s.sample(logits(0, 1), [])).toThrow(/fewer than the vocabulary/);
  });

  it('does not modify the caller’s logits', () => {
    const l = logits(1, 2, 3);
    new Sampler({ temperature: 0.5, repetitionPenalty: 2, logitBias: { 0: 4 } }, 3).sample(l, [2]);
    expect([...l]).toEqual([1, 2, 3]);
  });

  it('reproduces the same sequence for the same seed', () => {
    const l = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 3);
    const run = (seed: number) => {
      const s = new Sampler({ temperature: 1, topP: 1, seed }, l.length);
      return Array.from({ length: 200 }, () => s.sample(l, []));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
    expect(new Set(run(42)).size).toBeGreaterThan(20);
  });

  it('treats top-k = 1 as greedy', () => {
    const l = Float32Array.from({ length: 500 }, (_, i) => Math.cos(i * 7.1) * 4);
    const s = new Sampler({ temperature: 1.5, topK: 1, seed: 3 }, l.length);
    expect(s.greedy).toBe(true);
    let best = 0;
    for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
    for (let i = 0; i < 50; i++) expect(s.sample(l, [])).toBe(best);
  });

  it('matches softmax(logits / T) in distribution', () => {
    const v = [2, 1, 0.5, 0, -1, -3];
    for (const t of [1, 0.7, 2]) {
      const f = frequencies(new Sampler({ temperature: t, topP: 1, seed: 7 }, v.length), logits(...v), 20_000);
      const p = softmax(v, t);
      for (let i = 0; i < v.length; i++) expect(Math.abs(f[i] - p[i]), `T=${t} id ${i}`).toBeLessThan(0.015);
    }
  });

  it('keeps only the k most likely tokens with top-k, renormalised', () => {
    const l = logits(0, 3, 1, 2, -1);
    expect(support({ topK: 2, topP: 1 }, l)).toEqual([1, 3]);
    const f = frequencies(new Sampler({ topK: 2, topP: 1, seed: 11 }, 5), l, 20_000);
    const p = softmax([3, 2]);
    expect(Math.abs(f[1] - p[0])).toBeLessThan(0.015);
    expect(Math.abs(f[3] - p[1])).toBeLessThan(0.015);
  });

  it('keeps the smallest set reaching p with top-p (always at least one)', () => {
    // probabilities 0.5, 0.25, 0.125, 0.125
    const l = logits(Math.log(0.5), Math.log(0.25), Math.log(0.125), Math.log(0.125));
    expect(support({ topP: 0.5 }, l)).toEqual([0]);
    expect(support({ topP: 0.6 }, l)).toEqual([0, 1]);
    expect(support({ topP: 0.75 }, l)).toEqual([0, 1]);
    expect(support({ topP: 0.8 }, l)).toEqual([0, 1, 2]);
    expect(support({ topP: 1e-9 }, l)).toEqual([0]);
    // after top-k, p applies to the renormalised survivors: 0.5 / 0.75 = 0.67
    expect(support({ topK: 2, topP: 0.6 }, l)).toEqual([0]);
    expect(support({ topK: 2, topP: 0.7 }, l)).toEqual([0, 1]);
  });

  it('finds the nucleus in a large vocabulary with a long tail', () => {
    const n = 200_000;
    const l = new Float32Array(n).fill(-2); // a tail holding most of the mass together
    l[123] = 9;
    l[77_000] = 8.5;
    const f = frequencies(new Sampler({ topP: 0.95, seed: 5 }, n), l, 100);
    const tail = 1 - f[123] - f[77_000];
    // the tail is 200k·e^-2 / (e^9 + e^8.5 + 200k·e^-2) ≈ 0.67 of the mass: the nucleus needs it
    expect(tail).toBeGreaterThan(0.5);
    // with a dominant head the nucleus is the head only
    l.fill(-20);
    l[5] = 10;
    l[6] = 9;
    expect(new Set(frequencies(new Sampler({ topP: 0.9, seed: 5 }, n), l, 100).flatMap((p, i) => (p > 0 ? [i] : [])))).toEqual(new Set([5, 6]));
  });

  it('computes the same nucleus as a full sort', () => {
    let seed = 9;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 30; trial++) {
      const n = 3000;
      // a mix of spreads, with repeated values to exercise ties
      const spread = [0.5, 3, 15, 60][trial % 4];
      const x = Float32Array.from({ length: n }, () => Math.round(rnd() * spread * 4) / 4 - (rnd() < 0.01 ? Infinity : 0));
      const p = [0.1, 0.5, 0.9, 0.95, 0.999][trial % 5];
      const order = Array.from({ length: n }, (_, i) => i).filter((i) => x[i] > -Infinity).sort((i, j) => x[j] - x[i] || i - j);
      const m = x[order[0]];
      const z = order.reduce((a, i) => a + Math.exp(x[i] - m), 0);
      let cum = 0;
      let r = 0;
      while (r < order.length && (cum += Math.exp(x[order[r]] - m)) < p * z) r++;
      const expected = order.slice(0, r + 1).sort((a, b) => a - b);
      expect([...nucleusIds(x, n, p)].sort((a, b) => a - b), `trial ${trial}`).toEqual(expected);
    }
  });

  it('drops tokens below minP × p_max with min-p', () => {
    // probabilities relative to the max: 1, 0.5, 0.2, 0.05
    const l = logits(0, Math.log(0.5), Math.log(0.2), Math.log(0.05));
    expect(support({ minP: 0.1, topP: 1 }, l)).toEqual([0, 1, 2]);
    expect(support({ minP: 0.3, topP: 1 }, l)).toEqual([0, 1]);
    expect(support({ minP: 1, topP: 1 }, l)).toEqual([0]);
    expect(support({ minP: 0.1, topK: 2, topP: 1 }, l)).toEqual([0, 1]);
  });

  it('applies the repetition penalty HF-style (divide positive, multiply negative)', () => {
    // token 0: 2 → 1; token 1: -1 → -2; token 2 (not in history) stays 1.5
    const s = new Sampler({ temperature: 0, repetitionPenalty: 2 }, 3);
    expect(s.sample(logits(2, -1, 1.5), [0, 1, 0])).toBe(2);
    const s2 = new Sampler({ temperature: 0, repetitionPenalty: 2 }, 3);
    expect(s2.sample(logits(-1, -1.2, -1.9), [0])).toBe(1); // -1 → -2 now below -1.2 and -1.9
  });

  it('applies OpenAI presence and frequency penalties', () => {
    const l = logits(3, 2.5, 0);
    expect(new Sampler({ temperature: 0, presencePenalty: 0.4 }, 3).sample(l, [0, 0, 0])).toBe(0);
    expect(new Sampler({ temperature: 0, presencePenalty: 0.6 }, 3).sample(l, [0, 0, 0])).toBe(1);
    // frequency: 3 − 3·0.2 = 2.4 < 2.5
    expect(new Sampler({ temperature: 0, frequencyPenalty: 0.2 }, 3).sample(l, [0, 0, 0])).toBe(1);
    expect(new Sampler({ temperature: 0, frequencyPenalty: 0.2 }, 3).sample(l, [0, 0])).toBe(0);
    // sampled distribution reflects the shifted logits
    const f = frequencies(new Sampler({ presencePenalty: 1, frequencyPenalty: 0.5, topP: 1, seed: 2 }, 3), logits(1, 1, 1), 20_000, [0, 0]);
    const p = softmax([1 - 1 - 1, 1, 1]);
    for (let i = 0; i < 3; i++) expect(Math.abs(f[i] - p[i])).toBeLessThan(0.015);
  });

  it('forces or bans tokens with logit bias', () => {
    const l = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 5);
    expect(support({ logitBias: { 321: 100 } }, l, 200)).toEqual([321]);
    expect(new Sampler({ temperature: 0, logitBias: { 1: -Infinity } }, 3).sample(logits(0, 5, 1), [])).toBe(2);
    // everything banned: falls back to argmax instead of failing
    expect(new Sampler({ seed: 1, logitBias: { 0: -Infinity, 1: -Infinity } }, 2).sample(logits(0, 1), [])).toBe(0);
  });

  it('is fast enough on a 200k vocabulary', () => {
    const n = 200_000;
    const l = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 6 + Math.cos(i * 1.3));
    const history = Array.from({ length: 4000 }, (_, i) => (i * 7919) % n);
    for (const opts of [{ topK: 40 }, { topP: 0.95 }, { minP: 0.05, topP: 1 }, { topK: 0, topP: 1 }] as SamplingOptions[]) {
      const s = new Sampler({ seed: 1, repetitionPenalty: 1.1, ...opts }, n);
      s.sample(l, history);
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) s.sample(l, history);
      const ms = (performance.now() - t0) / 10;
      expect(ms, JSON.stringify(opts)).toBeLessThan(60);
    }
  });
});
