// Softmax attention's RoPE and KV-cache append in one pass over the q|k|v rows of one matmul (rows
// `stride` apart, q's nh heads from column 0, k's and v's nkv heads from kCol and vCol):
//   q heads are turned in place; k heads are turned into a page of the KV cache; v heads are copied there.
// RoPE is rotate-half (NeoX) on the first rd channels of a head: channel c pairs with c + rd/2 (c < rd/2),
// channels rd .. hd pass through; cos/sin come from a table computed on the CPU in double precision
// (WGSL sin/cos are only accurate on [-π, π]). A page's heads are padded to whole quads
// (hdp = ⌈hd/4⌉·4; the padding stays zero) for the attention kernel.
struct Params { n: u32, nh: u32, nkv: u32, hd: u32, hdp: u32, rd: u32, stride: u32, kCol: u32, vCol: u32, pos: u32, t0: u32, row0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cs: array<f32>;        // [row0 + t0 + n, rd/2, 2] (cos, sin) per token
@group(0) @binding(2) var<storage, read_write> src: array<f32>; // [t0 + n, stride] f32: q|k|v rows
@group(0) @binding(3) var<storage, read_write> kc: array<f32>;  // one page: [pos + n (or more), nkv, hdp] f32
@group(0) @binding(4) var<storage, read_write> vc: array<f32>;  // one page, as kc

// An invocation owns channel e of head h (q heads, then kv heads) of token t; a rotated pair belongs
// to its first channel.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  if (c >= (p.nh + p.nkv) * p.hd || t >= p.n) { return; }
  let h = c / p.hd;
  let e = c % p.hd;
  let half = p.rd / 2u;
  let s = (p.t0 + t) * p.stride;
  let cb = ((p.row0 + p.t0 + t) * half + e) * 2u;
  if (h < p.nh) {
    if (e < half) {
      let i = s + h * p.hd + e;
      let x1 = src[i];
      let x2 = src[i + half];
      src[i] = x1 * cs[cb] - x2 * cs[cb + 1u];
      src[i + half] = x2 * cs[cb] + x1 * cs[cb + 1u];
    }
    return;
  }
  let g = h - p.nh;
  let d = ((p.pos + t) * p.nkv + g) * p.hdp + e;
  vc[d] = src[s + p.vCol + g * p.hd + e];
  let k = s + p.kCol + g * p.hd + e;
  if (e < half) {
    let k1 = src[k];
    let k2 = src[k + half];
    kc[d] = k1 * cs[cb] - k2 * cs[cb + 1u];
    kc[d + half] = k2 * cs[cb] + k1 * cs[cb + 1u];
  } else if (e >= p.rd) {
    kc[d] = src[k];
  }
}
