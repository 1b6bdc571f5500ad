// y[t, yCol0 + r] = act(x[x0 + t, :] · W[r, :]) for t < n, r < rows: a Linear (y = x·Wᵀ) over one row
// part of W. Each invocation owns one output column and TT tokens, so a weight is loaded once per TT tokens
// and no barrier is needed (barriers are very slow on software adapters).
#include "weights.wgsl"

struct Params { n: u32, k: u32, rows: u32, yStride: u32, yCol0: u32, x0: u32 }
override ACT: u32 = 0u; // 0 = identity, 1 = SiLU
const TT = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [x0 + n, k] f32
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [rows, k] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [n, yStride] f32

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  let t0 = gid.y * TT;
  if (r >= p.rows || t0 >= p.n) { return; }
  let nt = min(TT, p.n - t0);
  var acc = array<f32, TT>(0.0, 0.0, 0.0, 0.0);
  let xb = (p.x0 + t0) * p.k;
  for (var c = 0u; c < p.k; c++) {
    let i = r * p.k + c;
    let wv = unpackW(w[wordOf(i)], i);
    for (var t = 0u; t < nt; t++) {
      acc[t] += wv * x[xb + t * p.k + c];
    }
  }
  for (var t = 0u; t < nt; t++) {
    var v = acc[t];
    if (ACT == 1u) { v = v / (1.0 + exp(-v)); }
    y[(t0 + t) * p.yStride + p.yCol0 + r] = v;
  }
}
