// Lightning attention, block-wise form (MODEL.md §4.3.4), one block of m tokens starting at token b0 of
// the call, per head with decay λ. Two entry points, dispatched in this order for every block:
//   blockOutput: o_j = e^{-λ(j+1)} q_j·S + Σ_{j'≤j} e^{-λ(j-j')} (q_j·k_j') v_j'   (reads the incoming S)
//   blockState:  S ← e^{-λm} S + Σ_{j'} e^{-λ(m-1-j')} k_j'ᵀ v_j'                  (in place)
// Decays come from a table e^{-λd}, d = 0 … block size, made on the CPU in double precision: only
// e^{-λd} with d ≥ 0 is ever used, so nothing overflows, and the strict upper triangle is never summed.
struct Params { nh: u32, hd: u32, b0: u32, m: u32, decayStride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;     // [n, nh, 3, hd] f32: per head q | k | v, SiLU applied
@group(0) @binding(2) var<storage, read> decay: array<f32>;   // [nh, decayStride] e^{-λ_h d}
@group(0) @binding(3) var<storage, read_write> S: array<f32>; // [nh, hd(k), hd(v)] f32 state
@group(0) @binding(4) var<storage, read_write> o: array<f32>; // [n, nh, hd] f32

fn qkvAt(t: u32, h: u32, part: u32, c: u32) -> f32 {
  return qkv[((t * p.nh + h) * 3u + part) * p.hd + c];
}

@compute @workgroup_size(64)
fn blockOutput(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = gid.x + gid.y * nwg.x * 64u; // over [nh, m, hd]
  if (id >= p.nh * p.m * p.hd) { return; }
  let c = id % p.hd;
  let j = (id / p.hd) % p.m;
  let h = id / (p.hd * p.m);
  let t = p.b0 + j;
  let dec = h * p.decayStride;
  var inter = 0.0;
  for (var d = 0u; d < p.hd; d++) { inter += qkvAt(t, h, 0u, d) * S[(h * p.hd + d) * p.hd + c]; }
  var intra = 0.0;
  for (var jj = 0u; jj <= j; jj++) {
    var qk = 0.0;
    for (var d = 0u; d < p.hd; d++) { qk += qkvAt(t, h, 0u, d) * qkvAt(p.b0 + jj, h, 1u, d); }
    intra += decay[dec + j - jj] * qk * qkvAt(p.b0 + jj, h, 2u, c);
  }
  o[(t * p.nh + h) * p.hd + c] = decay[dec + j + 1u] * inter + intra;
}

@compute @workgroup_size(64)
fn blockState(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = gid.x + gid.y * nwg.x * 64u; // over [nh, hd, hd]
  if (id >= p.nh * p.hd * p.hd) { return; }
  let c = id % p.hd;
  let d = (id / p.hd) % p.hd;
  let h = id / (p.hd * p.hd);
  let dec = h * p.decayStride;
  var kv = 0.0;
  for (var jj = 0u; jj < p.m; jj++) {
    kv += decay[dec + p.m - 1u - jj] * qkvAt(p.b0 + jj, h, 1u, d) * qkvAt(p.b0 + jj, h, 2u, c);
  }
  S[id] = decay[dec + p.m] * S[id] + kv;
}
