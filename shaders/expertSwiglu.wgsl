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

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let r0 = gid.y * TT;
  let tok0 = runs[2u * p.expert];
  let count = runs[2u * p.expert + 1u];
  if (i >= p.inter || r0 >= count) { return; }
  let nr = min(TT, count - r0);
  var xb: array<u32, TT>;
  for (var r = 0u; r < nr; r++) { xb[r] = tok[tok0 + r0 + r] * p.hidden; }
  var a = array<f32, TT>(0.0, 0.0, 0.0, 0.0);
  var b = array<f32, TT>(0.0, 0.0, 0.0, 0.0);
  for (var c = 0u; c < p.hidden; c++) {
    let wi = i * p.hidden + c;
    let g = unpackW(w1[wordOf(wi)], wi);
    let up = unpackW(w3[wordOf(wi)], wi);
    for (var r = 0u; r < nr; r++) {
      let xv = x[xb[r] + c];
      a[r] += g * xv;
      b[r] += up * xv;
    }
  }
  for (var r = 0u; r < nr; r++) {
    u[(r0 + r) * p.inter + i] = a[r] / (1.0 + exp(-a[r])) * b[r];
  }
}
