// Lightning attention, block-wise form (MODEL.md §4.3.4), one block of m tokens starting at token b0 of
// the call, per head with decay λ. Three entry points, dispatched in this order for every block:
//   blockScores: P[j, j'] = e^{-λ(j-j')} (q_j·k_j') for j' ≤ j, else exactly 0 (never exp of a positive)
//   blockOutput: o_j = e^{-λ(j+1)} q_j·S + Σ_{j'≤j} P[j, j'] v_j'            (reads the incoming S)
//   blockState:  S ← e^{-λm} S + Σ_{j'} e^{-λ(m-1-j')} k_j'ᵀ v_j'            (in place)
// Decays come from a table e^{-λd}, d = 0 … block size, made on the CPU in double precision: only
// e^{-λd} with d ≥ 0 is ever used, so nothing overflows.
struct Params { nh: u32, hd: u32, b0: u32, m: u32, decayStride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;        // [n, nh, 3, hd] f32: per head q | k | v, SiLU applied
@group(0) @binding(2) var<storage, read> decay: array<f32>;      // [nh, decayStride] e^{-λ_h d}
@group(0) @binding(3) var<storage, read_write> S: array<f32>;    // [nh, hd(k), hd(v)] f32 state
@group(0) @binding(4) var<storage, read_write> o: array<f32>;    // [n, nh, hd] f32
@group(0) @binding(5) var<storage, read_write> P: array<f32>;    // [nh, block, block] f32 decayed scores

fn qkvAt(t: u32, h: u32, part: u32, c: u32) -> f32 {
  return qkv[((t * p.nh + h) * 3u + part) * p.hd + c];
}

fn scoreAt(h: u32, j: u32, jj: u32) -> u32 {
  let B = p.decayStride - 1u;
  return (h * B + j) * B + jj;
}

@compute @workgroup_size(64)
fn blockScores(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = gid.x + gid.y * nwg.x * 64u; // over [nh, m, m]
  if (id >= p.nh * p.m * p.m) { return; }
  let jj = id % p.m;
  let j = (id / p.m) % p.m;
  let h = id / (p.m * p.m);
  var s = 0.0;
  if (jj <= j) {
    for (var d = 0u; d < p.hd; d++) { s += qkvAt(p.b0 + j, h, 0u, d) * qkvAt(p.b0 + jj, h, 1u, d); }
    s *= decay[h * p.decayStride + j - jj];
  }
  P[scoreAt(h, j, jj)] = s;
}

@compute @workgroup_size(64)
fn blockOutput(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = gid.x + gid.y * nwg.x * 64u; // over [nh, m, hd]
  if (id >= p.nh * p.m * p.hd) { return; }
  let c = id % p.hd;
  let j = (id / p.hd) % p.m;
  let h = id / (p.hd * p.m);
  let t = p.b0 + j;
  var inter = 0.0;
  for (var d = 0u; d < p.hd; d++) { inter += qkvAt(t, h, 0u, d) * S[(h * p.hd + d) * p.hd + c]; }
  var intra = 0.0;
  for (var jj = 0u; jj <= j; jj++) { intra += P[scoreAt(h, j, jj)] * qkvAt(p.b0 + jj, h, 2u, c); }
  o[(t * p.nh + h) * p.hd + c] = decay[h * p.decayStride + j + 1u] * inter + intra;
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
