// y[t, yCol0 + r] = act(x[x0 + t, :] · W[r, :]) for t < n, r < rows: a Linear (y = x·Wᵀ) over one row
// part of W. Each invocation owns one output column and TT tokens, so a weight is loaded once per TT tokens
// and no barrier is needed (barriers are very slow on software adapters).
#include "weights.wgsl"

struct Params { n: u32, k: u32, rows: u32, yStride: u32, yCol0: u32, x0: u32 }
override ACT: u32 = 0u; // 0 = identity, 1 = SiLU
override TT: u32 = 4u;  // tokens per invocation: 4, or 1 for a single token (decode), which then does a quarter of the work

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [x0 + n, k] f32
@group(0) @binding(2) var<storage, read> w: array<u32>;       // [rows, k] packed WDTYPE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [n, yStride] f32
@group(0) @binding(4) var<storage, read> ws: array<u32>;      // [rows, k / 32] block scales (int8, int4)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  let t0 = gid.y * TT;
  if (r >= p.rows || t0 >= p.n) { return; }
  // The TT tokens' accumulators live in one vec4 (a dynamically indexed array would spill to memory);
  // tokens past the end read the last row and are not written.
  let last = p.n - 1u;
  let xb = vec4u(p.x0 + t0, p.x0 + min(t0 + 1u, last), p.x0 + min(t0 + 2u, last), p.x0 + min(t0 + 3u, last)) * p.k;
  var acc = vec4f(0.0);
  for (var c = 0u; c < p.k; c++) {
    var s = 0u;
    if (WDTYPE >= 3u) { s = ws[scaleAt(r, c, p.k)]; }
    let wv = weightAt(w[wordAt(r, c, p.k)], s, r, c, p.k);
    if (TT == 1u) { acc.x += wv * x[xb.x + c]; }
    else { acc += wv * vec4f(x[xb.x + c], x[xb.y + c], x[xb.z + c], x[xb.w + c]); }
  }
  if (ACT == 1u) { acc = acc / (1.0 + exp(-acc)); }
  let nt = min(TT, p.n - t0);
  for (var t = 0u; t < nt; t++) { y[(t0 + t) * p.yStride + p.yCol0 + r] = acc[t]; }
}
