// Rotary embedding, rotate-half (NeoX) pairing, in place on the first rd channels of every head:
// channel c pairs with c + rd/2 (c < rd/2); channels rd .. hd pass through. cos/sin come from a table
// computed on the CPU in double precision (WGSL sin/cos are only accurate on [-π, π]). The heads of a
// token are the first heads·hd values of its row of `stride` (softmax attention's q and k heads, side
// by side in the q|k|v row of one matmul).
struct Params { n: u32, heads: u32, hd: u32, rd: u32, stride: u32, row0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cs: array<f32>;      // [row0 + n, rd/2, 2] (cos, sin) per token
@group(0) @binding(2) var<storage, read_write> x: array<f32>; // [n, stride] f32, heads·hd ≤ stride

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let half = p.rd / 2u;
  let id = gid.x + gid.y * nwg.x * 64u; // over [n, heads, rd/2]
  if (id >= p.n * p.heads * half) { return; }
  let c = id % half;
  let th = id / half; // token * heads + head
  let t = th / p.heads;
  let b = t * p.stride + (th % p.heads) * p.hd;
  let cosv = cs[((p.row0 + t) * half + c) * 2u];
  let sinv = cs[((p.row0 + t) * half + c) * 2u + 1u];
  let x1 = x[b + c];
  let x2 = x[b + c + half];
  x[b + c] = x1 * cosv - x2 * sinv;
  x[b + c + half] = x2 * cosv + x1 * sinv;
}
