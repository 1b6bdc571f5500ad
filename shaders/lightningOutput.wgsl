// Lightning attention output: o[t, :] ← σ(g[t, :]) ⊙ RMSNorm(o[t, :]; w, eps) over all nh·hd channels at
// once (one norm across heads, not per head). The gate g = h·W_gateᵀ reads the layer input.
#include "weights.wgsl"
#include "rowSum.wgsl"

struct Params { n: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;       // [n, dim] f32 gate pre-activations
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [dim] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> o: array<f32>; // [n, dim] f32, normalised in place

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wg.x + wg.y * nwg.x; // a workgroup per row (shaders/rmsnorm.wgsl says why)
  if (t >= p.n) { return; }
  let b = t * p.dim;
  var ss = 0.0;
  for (var c = tid; c < p.dim; c += WG) { ss += o[b + c] * o[b + c]; }
  let inv = 1.0 / sqrt(rowSum(ss, tid) / f32(p.dim) + p.eps);
  for (var c = tid; c < p.dim; c += WG) {
    let gate = 1.0 / (1.0 + exp(-g[b + c]));
    o[b + c] = gate * (unpackW(w[wordOf(c)], c) * (o[b + c] * inv));
  }
}
