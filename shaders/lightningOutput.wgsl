// Lightning attention output: o[t, :] ← σ(g[t, :]) ⊙ RMSNorm(o[t, :]; w, eps) over all nh·hd channels at
// once (one norm across heads, not per head). The gate g = h·W_gateᵀ reads the layer input.
// Entry points rows and row as in shaders/rmsnorm.wgsl.
#include "weights.wgsl"
#include "rowSum.wgsl"

struct Params { n: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;       // [n, dim] f32 gate pre-activations
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [dim] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> o: array<f32>; // [n, dim] f32, normalised in place

fn sumSq(b: u32, c0: u32, step: u32) -> f32 {
  var ss = 0.0;
  for (var c = c0; c < p.dim; c += step) { ss += o[b + c] * o[b + c]; }
  return ss;
}

fn gateNorm(b: u32, c0: u32, step: u32, ss: f32) {
  let inv = 1.0 / sqrt(ss / f32(p.dim) + p.eps);
  for (var c = c0; c < p.dim; c += step) {
    let gate = 1.0 / (1.0 + exp(-g[b + c]));
    o[b + c] = gate * (unpackW(w[wordOf(c)], c) * (o[b + c] * inv));
  }
}

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.n) { return; }
  gateNorm(t * p.dim, 0u, 1u, sumSq(t * p.dim, 0u, 1u));
}

@compute @workgroup_size(WG)
fn row(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wg.x + wg.y * nwg.x;
  if (t >= p.n) { return; }
  gateNorm(t * p.dim, tid, WG, rowSum(sumSq(t * p.dim, tid, WG), tid));
}
