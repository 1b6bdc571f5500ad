// Softmax attention's RoPE and KV-cache append in one pass over the q|k|v rows of one matmul (rows
// `stride` apart, q's nh heads from column 0, k's and v's nkv heads from kCol and vCol):
//   q heads are turned in place; k heads are turned into a page of the KV cache; v heads are copied there.
// RoPE as rope.wgsl says. A page's heads are padded to whole quads (hdp = ⌈hd/4⌉·4) for the attention
// kernel, in f32 or f16 halves (KV_F16). Decode does this inside attention (APPEND) instead.
struct Params { n: u32, nh: u32, nkv: u32, hd: u32, hdp: u32, rd: u32, stride: u32, kCol: u32, vCol: u32, pos: u32, t0: u32, row0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cs: array<f32>;        // [row0 + t0 + n, rd/2, 2] (cos, sin) per token
@group(0) @binding(2) var<storage, read_write> src: array<f32>; // [t0 + n, stride] f32: q|k|v rows
@group(0) @binding(3) var<storage, read_write> kc: array<u32>;  // one page: [pos + n (or more), nkv, hdp] f32 words, or (KV_F16) f16 halves two a word
@group(0) @binding(4) var<storage, read_write> vc: array<u32>;  // one page, as kc

// 1: the cache holds f16 halves packed two a word (src/gpu/attention.ts KvFormat).
override KV_F16: u32 = 0u;

// As src holds it now.
fn ropeIn(i: u32) -> f32 {
  return src[i];
}
#include "rope.wgsl"

// Channel e of kv head g of the row at s, turned; 0 past hd (the padding).
fn turnedKey(s: u32, cs0: u32, g: u32, e: u32) -> f32 {
  if (e >= p.hd) { return 0.0; }
  return turned(s + p.kCol + g * p.hd, cs0, e);
}

fn value(s: u32, g: u32, e: u32) -> f32 {
  if (e >= p.hd) { return 0.0; }
  return src[s + p.vCol + g * p.hd + e];
}

// An invocation owns head h (q heads, then kv heads) of token t: q heads are turned pair by pair in
// place; a kv head's channels go two at a time (one packed word of halves), each turned from the rows
// as they were.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let heads = p.nh + p.nkv;
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= heads * p.n) { return; }
  let t = i / heads;
  let h = i % heads;
  let half = p.rd / 2u;
  let s = (p.t0 + t) * p.stride;
  let cs0 = (p.row0 + p.t0 + t) * half * 2u;
  if (h < p.nh) {
    let b = s + h * p.hd;
    for (var e = 0u; e < half; e++) {
      let pair = vec2f(turned(b, cs0, e), turned(b, cs0, e + half)); // both read before either is written
      src[b + e] = pair.x;
      src[b + e + half] = pair.y;
    }
    return;
  }
  let g = h - p.nh;
  let d0 = ((p.pos + t) * p.nkv + g) * p.hdp; // hdp is whole quads, so every d is even
  for (var e = 0u; e < p.hd; e += 2u) {
    let d = d0 + e;
    if (KV_F16 == 1u) {
      kc[d / 2u] = halvesWord(vec2f(turnedKey(s, cs0, g, e), turnedKey(s, cs0, g, e + 1u)));
      vc[d / 2u] = halvesWord(vec2f(value(s, g, e), value(s, g, e + 1u)));
      continue;
    }
    kc[d] = bitcast<u32>(turnedKey(s, cs0, g, e));
    vc[d] = bitcast<u32>(value(s, g, e));
    if (e + 1u < p.hd) {
      kc[d + 1u] = bitcast<u32>(turnedKey(s, cs0, g, e + 1u));
      vc[d + 1u] = bitcast<u32>(value(s, g, e + 1u));
    }
  }
}
