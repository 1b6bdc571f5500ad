/**
 * Plain CPU reference of every GPU kernel: loops over Float32Arrays in double-precision arithmetic.
 * Ground truth for the kernel tests, written from MODEL.md and sharing no code with the shaders.
 */

/** y[n, rows] = x[n, k] · W[rows, k]ᵀ */
export function matmul(x: Float32Array, n: number, k: number, w: Float32Array, rows: number): Float32Array {
  const y = new Float32Array(n * rows);
  for (let t = 0; t < n; t++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += x[t * k + c] * w[r * k + c];
      y[t * rows + r] = s;
    }
  return y;
}

export const silu = (z: number) => z / (1 + Math.exp(-z));
export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export function rmsnorm(x: Float32Array, n: number, dim: number, w: Float32Array, eps: number): Float32Array {
  const y = new Float32Array(n * dim);
  for (let t = 0; t < n; t++) {
    let ss = 0;
    for (let c = 0; c < dim; c++) ss += x[t * dim + c] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let c = 0; c < dim; c++) y[t * dim + c] = w[c] * x[t * dim + c] * inv;
  }
  return y;
}

export function embed(ids: ArrayLike<number>, table: Float32Array, hidden: number): Float32Array {
  const x = new Float32Array(ids.length * hidden);
  for (let t = 0; t < ids.length; t++) x.set(table.subarray(ids[t] * hidden, (ids[t] + 1) * hidden), t * hidden);
  return x;
}

/** Rotate-half RoPE on the first rd channels of every head of x [n, heads, hd], positions pos0 + t. */
export function rope(x: Float32Array, n: number, heads: number, hd: number, rd: number, pos0: number, theta: number): Float32Array {
  const y = Float32Array.from(x);
  const half = rd / 2;
  for (let t = 0; t < n; t++)
    for (let h = 0; h < heads; h++)
      for (let c = 0; c < half; c++) {
        const a = (pos0 + t) / theta ** ((2 * c) / rd);
        const b = (t * heads + h) * hd;
        const x1 = x[b + c];
        const x2 = x[b + c + half];
        y[b + c] = x1 * Math.cos(a) - x2 * Math.sin(a);
        y[b + c + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
      }
  return y;
}

/** Causal GQA attention: q [n, nh, hd] at positions past..past+n-1 over K, V [past+n, nkv, hd]. */
export function attention(q: Float32Array, K: Float32Array, V: Float32Array, n: number, nh: number, nkv: number, hd: number, past: number): Float32Array {
  const o = new Float32Array(n * nh * hd);
  for (let t = 0; t < n; t++)
    for (let j = 0; j < nh; j++) {
      const g = Math.floor(j / (nh / nkv));
      const total = past + t + 1;
      const s = new Float64Array(total);
      for (let i = 0; i < total; i++) {
        let d = 0;
        for (let c = 0; c < hd; c++) d += q[(t * nh + j) * hd + c] * K[(i * nkv + g) * hd + c];
        s[i] = d / Math.sqrt(hd);
      }
      const m = Math.max(...s);
      let l = 0;
      for (let i = 0; i < total; i++) l += (s[i] = Math.exp(s[i] - m));
      for (let c = 0; c < hd; c++) {
        let acc = 0;
        for (let i = 0; i < total; i++) acc += s[i] * V[(i * nkv + g) * hd + c];
        o[(t * nh + j) * hd + c] = acc / l;
      }
    }
  return o;
}

/**
 * Lightning attention in its direct O(n²) form (MODEL.md §4.3.3), from qkv [n, nh, 3, hd] and the
 * incoming state S [nh, hd, hd]: o_t = Σ_{s≤t} e^{-λ(t-s)} (q_t·k_s) v_s + e^{-λ(t+1)} q_t S.
 */
export function lightning(qkv: Float32Array, n: number, nh: number, hd: number, state: Float32Array, lambdas: number[]): { o: Float32Array; state: Float32Array } {
  const at = (t: number, h: number, part: number, c: number) => qkv[((t * nh + h) * 3 + part) * hd + c];
  const o = new Float32Array(n * nh * hd);
  const S = new Float32Array(nh * hd * hd);
  for (let h = 0; h < nh; h++) {
    const lam = lambdas[h];
    for (let t = 0; t < n; t++)
      for (let c = 0; c < hd; c++) {
        let acc = 0;
        for (let s = 0; s <= t; s++) {
          let qk = 0;
          for (let d = 0; d < hd; d++) qk += at(t, h, 0, d) * at(s, h, 1, d);
          acc += Math.exp(-lam * (t - s)) * qk * at(s, h, 2, c);
        }
        let qs = 0;
        for (let d = 0; d < hd; d++) qs += at(t, h, 0, d) * state[(h * hd + d) * hd + c];
        o[(t * nh + h) * hd + c] = acc + Math.exp(-lam * (t + 1)) * qs;
      }
    for (let d = 0; d < hd; d++)
      for (let c = 0; c < hd; c++) {
        let s = Math.exp(-lam * n) * state[(h * hd + d) * hd + c];
        for (let t = 0; t < n; t++) s += Math.exp(-lam * (n - 1 - t)) * at(t, h, 1, d) * at(t, h, 2, c);
        S[(h * hd + d) * hd + c] = s;
      }
  }
  return { o, state: S };
}

/** σ(g) ⊙ RMSNorm(o; w, eps) per token. */
export function lightningOutput(o: Float32Array, g: Float32Array, n: number, dim: number, w: Float32Array, eps: number): Float32Array {
  const y = rmsnorm(o, n, dim, w, eps);
  for (let i = 0; i < y.length; i++) y[i] *= sigmoid(g[i]);
  return y;
}

/** Softmax over E router logits, top-k (ties to the lower index), renormalised. */
export function route(z: Float32Array, n: number, E: number, k: number): { idx: Int32Array; weight: Float32Array } {
  const idx = new Int32Array(n * k);
  const weight = new Float32Array(n * k);
  for (let t = 0; t < n; t++) {
    const row = Array.from(z.subarray(t * E, (t + 1) * E));
    const m = Math.max(...row);
    const p = row.map((v) => Math.exp(v - m));
    const order = p.map((_, e) => e).sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
    const sum = order.reduce((s, e) => s + p[e], 0);
    order.forEach((e, s) => {
      idx[t * k + s] = e;
      weight[t * k + s] = p[e] / sum;
    });
  }
  return { idx, weight };
}

/** One SwiGLU expert applied to a row: W2 (SiLU(W1 x) ⊙ W3 x). */
export function expert(x: Float32Array, hidden: number, inter: number, w1: Float32Array, w3: Float32Array, w2: Float32Array): Float32Array {
  const a = matmul(x, 1, hidden, w1, inter);
  const b = matmul(x, 1, hidden, w3, inter);
  const u = a.map((v, i) => silu(v) * b[i]);
  return matmul(u, 1, inter, w2, hidden);
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}
