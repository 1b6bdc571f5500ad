// Lightning attention, recurrent form for one token (MODEL.md §4.3.3), per head with decay λ:
//   S ← e^{-λ} S + kᵀv,   o = q·S   (S already holds the current token with weight 1).
// Each invocation owns one state column c of one head: it updates that column and reads it out.
struct Params { nh: u32, hd: u32, decayStride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;     // [1, nh, 3, hd] f32: per head q | k | v
@group(0) @binding(2) var<storage, read> decay: array<f32>;   // [nh, decayStride] e^{-λ_h d}; d = 1 is used
@group(0) @binding(3) var<storage, read_write> S: array<f32>; // [nh, hd, hd] f32 state
@group(0) @binding(4) var<storage, read_write> o: array<f32>; // [1, nh, hd] f32

override WG: u32 = 64u; // Gpu.spread
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let id = gid.x; // over [nh, hd]
  if (id >= p.nh * p.hd) { return; }
  let c = id % p.hd;
  let h = id / p.hd;
  let r = decay[h * p.decayStride + 1u];
  let base = h * 3u * p.hd;
  let v = qkv[base + 2u * p.hd + c];
  var acc = 0.0;
  for (var d = 0u; d < p.hd; d++) {
    let si = (h * p.hd + d) * p.hd + c;
    let s = r * S[si] + qkv[base + p.hd + d] * v;
    S[si] = s;
    acc += qkv[base + d] * s;
  }
  o[h * p.hd + c] = acc;
}
