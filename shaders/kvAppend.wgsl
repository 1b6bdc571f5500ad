// Appends n tokens' keys and values to a page of a layer's KV cache: k[pos + t, h, e] = src[t0 + t, kCol + h·hd + e]
// and v likewise from vCol, the source rows `stride` apart (the q|k|v rows of one matmul). A page's heads
// are padded to whole quads (hdp = ⌈hd/4⌉·4; the padding stays zero) for the attention kernel.
struct Params { n: u32, heads: u32, hd: u32, hdp: u32, stride: u32, kCol: u32, vCol: u32, pos: u32, t0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;      // [n, stride] f32
@group(0) @binding(2) var<storage, read_write> kc: array<f32>; // one page: [pos + n (or more), heads, hdp] f32
@group(0) @binding(3) var<storage, read_write> vc: array<f32>; // one page, as kc

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  if (c >= p.heads * p.hd || t >= p.n) { return; }
  let s = (p.t0 + t) * p.stride;
  let d = ((p.pos + t) * p.heads + c / p.hd) * p.hdp + c % p.hd;
  kc[d] = src[s + p.kCol + c];
  vc[d] = src[s + p.vCol + c];
}
