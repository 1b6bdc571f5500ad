// y[t, :] = w ⊙ x[t, :] / sqrt(mean(x[t, :]²) + eps); entry points rows and row (rowNorm.wgsl).
#include "weights.wgsl"
#include "rowNorm.wgsl"

struct Params { n: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [n, dim] f32
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [dim] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [n, dim] f32

fn finishRow(b: u32, c0: u32, step: u32, inv: f32) {
  for (var c = c0; c < p.dim; c += step) { y[b + c] = unpackW(w[wordOf(c)], c) * (x[b + c] * inv); }
}
