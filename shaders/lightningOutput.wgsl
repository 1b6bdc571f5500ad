// Lightning attention output: o[t, :] ← σ(g[t, :]) ⊙ RMSNorm(o[t, :]; w, eps) over all nh·hd channels at
// once (one norm across heads, not per head). The gate g = h·W_gateᵀ reads the layer input. Entry
// points rows and row (rowNorm.wgsl; src/gpu/rmsnorm.ts normRows picks one).
#include "weights.wgsl"
#include "rowNorm.wgsl"

struct Params { n: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;       // [n, dim] f32 gate pre-activations
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [dim] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> x: array<f32>; // [n, dim] f32: the attention output o, normalised in place

fn finishRow(b: u32, c0: u32, step: u32, inv: f32) {
  for (var c = c0; c < p.dim; c += step) {
    let gate = 1.0 / (1.0 + exp(-g[b + c]));
    x[b + c] = gate * (unpackW(w[wordOf(c)], c) * (x[b + c] * inv));
  }
}
