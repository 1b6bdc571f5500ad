// First half of one expert for the tokens routed to it (gathered by index, as ggml's mul_mat_id):
//   u[r, i] = SiLU(x[tok[tok0 + r]]·W1[i]) · (x[tok[tok0 + r]]·W3[i])     r < count, i < inter
// (tok0, count) of the expert come from `runs`, written by the CPU or by moePlan on the GPU.
#include "weights.wgsl"

struct Params { hidden: u32, inter: u32, expert: u32 }
const TT = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [n, hidden] f32
@group(0) @binding(2) var<storage, read> w1: array<u32>;      // [inter, hidden] packed WDTYPE (gate proj)
@group(0) @binding(3) var<storage, read> w3: array<u32>;      // [inter, hidden] packed WDTYPE (up proj)
@group(0) @binding(4) var<storage, read> tok: array<u32>;     // token of each routed row, grouped by expert
@group(0) @binding(5) var<storage, read> runs: array<u32>;    // [E, 2] first row and row count of each expert
@group(0) @binding(6) var<storage, read_write> u: array<f32>; // [count, inter] f32
@group(0) @binding(7) var<storage, read> ws1: array<u32>;     // W1's block scales (int8, int4)
@group(0) @binding(8) var<storage, read> ws3: array<u32>;     // W3's block scales (int8, int4)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let r0 = gid.y * TT;
  let tok0 = runs[2u * p.expert];
  let count = runs[2u * p.expert + 1u];
  if (i >= p.inter || r0 >= count) { return; }
  // Four rows' accumulators in vec4s (a dynamically indexed array would spill); rows past the end
  // repeat the last one and are not written.
  let last = tok0 + count - 1u;
  let xb = vec4u(tok[tok0 + r0], tok[min(tok0 + r0 + 1u, last)], tok[min(tok0 + r0 + 2u, last)], tok[min(tok0 + r0 + 3u, last)]) * p.hidden;
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  for (var c = 0u; c < p.hidden; c++) {
    let xv = vec4f(x[xb.x + c], x[xb.y + c], x[xb.z + c], x[xb.w + c]);
    let wi = wordAt(i, c, p.hidden);
    var s1 = 0u;
    var s3 = 0u;
    if (WDTYPE >= 3u) {
      s1 = ws1[scaleAt(i, c, p.hidden)];
      s3 = ws3[scaleAt(i, c, p.hidden)];
    }
    a += weightAt(w1[wi], s1, i, c, p.hidden) * xv;
    b += weightAt(w3[wi], s3, i, c, p.hidden) * xv;
  }
  let h = a / (1.0 + exp(-a)) * b;
  let nr = min(TT, count - r0);
  for (var r = 0u; r < nr; r++) { u[(r0 + r) * p.inter + i] = h[r]; }
}
