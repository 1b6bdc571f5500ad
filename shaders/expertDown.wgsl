// Second half of one expert, scattered back with its routing weight:
//   out[tok[tok0 + r], c] += weight[tok0 + r] · (u[r]·W2[c])     r < count, c < hidden
// Experts run one after another, and a token appears at most once per expert, so no two invocations of
// one dispatch touch the same output element.
#include "weights.wgsl"

struct Params { hidden: u32, inter: u32, expert: u32 }
const TT = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;         // [count, inter] f32
@group(0) @binding(2) var<storage, read> w2: array<u32>;        // [hidden, inter] packed WDTYPE (down proj)
@group(0) @binding(3) var<storage, read> tok: array<u32>;       // token of each routed row, grouped by expert
@group(0) @binding(4) var<storage, read> weight: array<f32>;    // routing weight of each routed row
@group(0) @binding(5) var<storage, read> runs: array<u32>;      // [E, 2] first row and row count of each expert
@group(0) @binding(6) var<storage, read_write> out: array<f32>; // [n, hidden] f32, accumulated
@group(0) @binding(7) var<storage, read> ws2: array<u32>;       // W2's block scales (int8, int4)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let r0 = gid.y * TT;
  let tok0 = runs[2u * p.expert];
  let count = runs[2u * p.expert + 1u];
  if (c >= p.hidden || r0 >= count) { return; }
  // Four rows' accumulators in a vec4 (a dynamically indexed array would spill); rows past the end
  // repeat the last one and are not written.
  let last = count - 1u;
  let ub = vec4u(r0, min(r0 + 1u, last), min(r0 + 2u, last), min(r0 + 3u, last)) * p.inter;
  var acc = vec4f(0.0);
  for (var i = 0u; i < p.inter; i++) {
    var s = 0u;
    if (WDTYPE >= 3u) { s = ws2[scaleAt(c, i, p.inter)]; }
    acc += weightAt(w2[wordAt(c, i, p.inter)], s, c, i, p.inter) * vec4f(u[ub.x + i], u[ub.y + i], u[ub.z + i], u[ub.w + i]);
  }
  let nr = min(TT, count - r0);
  for (var r = 0u; r < nr; r++) {
    let row = tok0 + r0 + r;
    let o = tok[row] * p.hidden + c;
    out[o] += weight[row] * acc[r];
  }
}
