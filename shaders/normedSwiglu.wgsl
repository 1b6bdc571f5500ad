// The first half of a dense MLP (one expert, no router) for one decoded token, its RMSNorm folded in
// (foldedNorm.wgsl, NORM = 1): u[i] = SiLU(h·W1[i])·(h·W3[i]) with h = RMSNorm(x), which it also
// writes. As expertSwiglu's decode: an invocation owns 4 rows a quarter of them apart. A shader of its
// own: expertSwiglu's main entry point already uses the 8 storage bindings a device is sure to allow.
#include "weights.wgsl"
#include "chunkDot.wgsl"

struct Params { hidden: u32, inter: u32, expert: u32, rows: u32, row0: u32, k: u32, experts: u32, alpha: f32, beta: f32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [hidden] f32, the stream before the norm
@group(0) @binding(2) var<storage, read> w1: array<vec4u>;    // [rows, hidden] tiled WDTYPE (gate proj)
@group(0) @binding(3) var<storage, read> w3: array<vec4u>;    // [rows, hidden] tiled WDTYPE (up proj)
@group(0) @binding(4) var<storage, read_write> u: array<f32>; // [inter] f32
@group(0) @binding(5) var<storage, read> ws1: array<u32>;     // W1's tiled block scales (int8, int4)
@group(0) @binding(6) var<storage, read> ws3: array<u32>;     // W3's tiled block scales (int8, int4)
@group(0) @binding(7) var<storage, read> normW: array<f32>;   // [hidden] f32, the norm's weight
@group(0) @binding(8) var<storage, read_write> h: array<f32>; // [hidden] f32, the normed row
#include "foldedNorm.wgsl"
#include "swiglu.wgsl"

override WG: u32 = 64u; // Gpu.spread's (expertWorkgroup)
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let q = (p.inter + 3u) / 4u;
  if (i >= q) { return; }
  normRow(0u, p.hidden, p.eps, i, q);
  decodeRows(p.row0, i, 0u, 0u);
}
