// First half of one expert for the tokens routed to it (gathered by index, as ggml's mul_mat_id):
//   u[r, i] = SiLU(x[tok[tok0 + r]]·W1[i]) · (x[tok[tok0 + r]]·W3[i])     r < count, i < inter
// (tok0, count) of the expert come from `runs`, written by the CPU or by moePlan on the GPU. An
// invocation owns one row i of W1 and W3 and TT = 4 routed rows; when one token is decoded (TT = 1),
// 4 rows of W1 and W3 a quarter of them apart, so each activation it loads serves 4 rows (as gemv).
// A layer's resident experts are stacked in one W1 and one W3 (expert e: rows e·inter ..), so the
// `routed` entry point runs all of a token's choices in one dispatch.
#include "weights.wgsl"
#include "chunkDot.wgsl"

struct Params { hidden: u32, inter: u32, expert: u32, rows: u32, row0: u32, k: u32, experts: u32 }
override TT: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [n, hidden] f32
@group(0) @binding(2) var<storage, read> w1: array<vec4u>;    // [rows, hidden] tiled WDTYPE (gate proj; experts stacked)
@group(0) @binding(3) var<storage, read> w3: array<vec4u>;    // [rows, hidden] tiled WDTYPE (up proj; experts stacked)
@group(0) @binding(4) var<storage, read> tok: array<u32>;     // token of each routed row, grouped by expert
@group(0) @binding(5) var<storage, read> runs: array<u32>;    // [E, 2] first row and row count of each expert
@group(0) @binding(6) var<storage, read_write> u: array<f32>; // [count, inter] f32
@group(0) @binding(7) var<storage, read> ws1: array<u32>;     // W1's tiled block scales (int8, int4)
@group(0) @binding(8) var<storage, read> ws3: array<u32>;     // W3's tiled block scales (int8, int4)
@group(0) @binding(9) var<storage, read> idx: array<u32>;     // routed: [n, k] the router's choices

fn xAt(i: u32) -> f32 {
  return x[i];
}
#include "swiglu.wgsl"

// One expert (rows row0 .. row0 + inter of the bound matrices) over the rows routed to it.
override WG: u32 = 64u; // workgroup size: 64, or at one token Gpu.spread's (expertWorkgroup)
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let r0 = gid.y * TT;
  let tok0 = runs[2u * p.expert];
  let count = runs[2u * p.expert + 1u];
  let q = (p.inter + 3u) / 4u;
  if (r0 >= count || i >= select(p.inter, q, TT == 1u)) { return; }
  if (TT == 1u) {
    decodeRows(p.row0, i, tok[tok0 + r0] * p.hidden, r0);
    return;
  }
  // Rows past the end repeat the last one and are not written.
  let last = tok0 + count - 1u;
  let xb = vec4u(tok[tok0 + r0], tok[min(tok0 + r0 + 1u, last)], tok[min(tok0 + r0 + 2u, last)], tok[min(tok0 + r0 + 3u, last)]) * p.hidden;
  let h = swiglu(p.row0 + i, xb);
  let nr = min(TT, count - r0);
  for (var r = 0u; r < nr; r++) { u[(r0 + r) * p.inter + i] = h[r]; }
}

// Every choice of the router at once (decode): routed row j = t·k + m of token t runs expert idx[j]
// of the stacked experts, into u[j]; no plan, one dispatch for all experts (TT = 1).
@compute @workgroup_size(WG)
fn routed(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let j = gid.y;
  let q = (p.inter + 3u) / 4u;
  if (i >= q) { return; }
  let e = min(idx[j], p.experts - 1u); // in bounds whatever idx holds
  decodeRows(e * p.inter, i, (j / p.k) * p.hidden, j);
}
