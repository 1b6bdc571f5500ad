// Causal softmax attention with GQA over a paged KV cache, for n new queries at positions
// past .. past+n-1 (prefill: n tokens; decode: n = 1), flash-decoding style and without barriers
// (very slow on software adapters). Two entry points:
//   page: one dispatch per KV page. An invocation owns (query t, head j, split s) and runs an online
//     softmax over its split of the page's keys, continuing the running (m, l, acc) it left in `part`
//     after the page before (so a long context needs no scratch per page). Splitting each page's keys
//     `splits` ways keeps enough invocations busy when there are few queries (decode).
//   reduce: combines the splits of each (t, j) into o.
// With one page and one split (few keys, or enough queries to fill the adapter), `page` writes o itself
// (FINAL) and there is no reduce pass.
// Query head j reads kv head j / (nh / nkv).
// Decode (APPEND) also does ropeAppend's work, saving its dispatch: q comes unturned in its q|k|v row
// and each head turns it as it loads it; the token's own key and value come from that row (k at kCol,
// v at vCol), turned and rounded as the cache holds them, in their place among the keys (the same
// sums as ropeAppend then attention), and each kv head's first query head appends them to the cache.
struct Params {
  n: u32, nh: u32, nkv: u32, hd: u32, past: u32, scale: f32, qStride: u32,
  splits: u32, page0: u32, pageLen: u32, first: u32,
  rd: u32, kCol: u32, vCol: u32, csRow: u32,
}
const MAX_HD = 256u;
const MAX_QT = 8u;
const NONE = -3.0e38; // the running max before any key

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;          // [n, qStride] f32, the nh heads first, RoPE applied (APPEND: not yet)
@group(0) @binding(2) var<storage, read_write> kc: array<vec4u>; // one page: [pageLen (or more), nkv, ⌈hd/4⌉] quads (KV_F16: halves), tokens page0 …
@group(0) @binding(3) var<storage, read_write> vc: array<vec4u>; // one page, as kc
@group(0) @binding(4) var<storage, read_write> part: array<f32>; // [n, nh, splits, 2 + hd]: m, l, acc of each split
@group(0) @binding(5) var<storage, read_write> o: array<f32>;    // [n, nh, hd] f32
@group(0) @binding(6) var<storage, read> cs: array<f32>;         // APPEND: cos/sin table, the token's at row csRow

// Queries an invocation takes (1 to MAX_QT): each key and value quad it loads serves all of them, a
// QT × 4 tile of scores like a matmul's. Prefill takes as many as the registers hold; decode 1.
override QT: u32 = 1u;
// 1: this dispatch is the only page and split, so its running (m, l, acc) is the answer: o = acc / l.
override FINAL: u32 = 0u;
// 1: the cache holds f16 halves packed two a word (a quad in half a vec4u), else f32 (a quad a vec4u).
override KV_F16: u32 = 0u;
override HD: u32 = 0u; // head_dim, as a constant: loops over a head's channels get fixed trip counts
// 1: one token (n = 1), its q, k and v unturned in q's row and its k and v not in the cache yet.
override APPEND: u32 = 0u;

fn ropeIn(i: u32) -> f32 {
  return q[i];
}
#include "rope.wgsl"

// The quad of channels 4c … of the head at q[b] (turned with APPEND), zero past HD.
fn headQuad(b: u32, c: u32, turn: bool) -> vec4f {
  let e = 4u * c;
  let mask = vec4u(e, e + 1u, e + 2u, e + 3u) < vec4u(HD);
  if (turn) {
    // A loop, not four calls: each inlined turned() lengthens the compile (SwiftShader: ~0.1 s).
    var v = vec4f(0.0);
    for (var i = 0u; i < 4u; i++) { v[i] = turned(b, p.csRow * p.rd, e + i); }
    return select(vec4f(0.0), v, mask);
  }
  return select(vec4f(0.0), vec4f(q[b + e], q[b + e + 1u], q[b + e + 2u], q[b + e + 3u]), mask);
}

// Stores a quad at quad `at` of the key (or value) page, as f32 or as halves (KV_F16; two quads a
// vec4u, the other one perhaps another head's: only this quad's two words are written).
fn storeQuad(value: bool, at: u32, v: vec4f) {
  if (KV_F16 == 0u) {
    if (value) { vc[at] = bitcast<vec4u>(v); } else { kc[at] = bitcast<vec4u>(v); }
    return;
  }
  let i = at / 2u;
  let h = vec2u(halvesWord(v.xy), halvesWord(v.zw));
  let odd = (at & 1u) == 1u;
  if (value && odd) { vc[i].z = h.x; vc[i].w = h.y; }
  if (value && !odd) { vc[i].x = h.x; vc[i].y = h.y; }
  if (!value && odd) { kc[i].z = h.x; kc[i].w = h.y; }
  if (!value && !odd) { kc[i].x = h.x; kc[i].y = h.y; }
}

// Quad i of a page's keys or values, widened to f32.
fn halves(w: vec4u, odd: bool) -> vec4f {
  let h = select(w.xy, w.zw, odd);
  return vec4f(unpack2x16float(h.x), unpack2x16float(h.y));
}
fn kQuad(i: u32) -> vec4f {
  if (KV_F16 == 1u) { return halves(kc[i / 2u], (i & 1u) == 1u); }
  return bitcast<vec4f>(kc[i]);
}
fn vQuad(i: u32) -> vec4f {
  if (KV_F16 == 1u) { return halves(vc[i / 2u], (i & 1u) == 1u); }
  return bitcast<vec4f>(vc[i]);
}

// Quad c of the token's own key (turned) or value at q[b], as the cache holds it.
fn ownQuad(b: u32, c: u32, turn: bool) -> vec4f {
  let v = headQuad(b, c, turn);
  if (KV_F16 == 1u) { return vec4f(unpack2x16float(halvesWord(v.xy)), unpack2x16float(halvesWord(v.zw))); }
  return v;
}

override WG: u32 = 64u; // page's workgroup size (Gpu.spread)

@compute @workgroup_size(WG)
fn page(@builtin(global_invocation_id) gid: vec3u) {
  let blocks = (p.n + QT - 1u) / QT;
  let i = gid.x + gid.y * 65535u * WG;
  if (i >= blocks * p.nh * p.splits) { return; }
  // Neighbouring invocations take neighbouring queries of one head and split: they read the same keys.
  let t0 = (i % blocks) * QT;
  let j = (i / blocks) % p.nh;
  let s = i / (blocks * p.nh);
  let g = j / (p.nh / p.nkv);
  let quads = (HD + 3u) / 4u;
  // This split's keys of the page, and where each query's keys end (causal; 0 for a query past n).
  let chunk = (p.pageLen + p.splits - 1u) / p.splits;
  let k0 = s * chunk;
  var m: array<f32, MAX_QT>;
  var l: array<f32, MAX_QT>;
  var end: array<u32, MAX_QT>;
  // Registers as quads, QT queries of `quads` each: one loop step moves four channels.
  var acc: array<vec4f, MAX_HD / 4u>;
  var qv: array<vec4f, MAX_HD / 4u>;
  var kEnd = k0;
  let own = p.past - p.page0; // APPEND: the token's row in this page, if under pageLen
  for (var a = 0u; a < QT; a++) {
    let t = t0 + a;
    let live = t < p.n;
    let pb = ((min(t, p.n - 1u) * p.nh + j) * p.splits + s) * (2u + HD);
    let visible = min(p.pageLen, select(0u, p.past + t + 1u - p.page0, p.past + t + 1u > p.page0));
    end[a] = select(k0, min(k0 + chunk, visible), live);
    kEnd = max(kEnd, end[a]);
    m[a] = NONE;
    l[a] = 0.0;
    if (live && p.first == 0u) {
      m[a] = part[pb];
      l[a] = part[pb + 1u];
    }
    let qb = min(t, p.n - 1u) * p.qStride + j * HD;
    for (var c = 0u; c < quads; c++) {
      let e = 4u * c;
      let mask = vec4u(e, e + 1u, e + 2u, e + 3u) < vec4u(HD);
      // Branched on APPEND itself, not passed as `turn`: the compiler then drops the turning from the
      // prefill pipeline (half a second of SwiftShader compile).
      if (APPEND == 1u) {
        qv[a * quads + c] = headQuad(qb, c, true) * p.scale;
      } else {
        qv[a * quads + c] = headQuad(qb, c, false) * p.scale;
      }
      acc[a * quads + c] = vec4f(0.0);
      if (live && p.first == 0u) { acc[a * quads + c] = select(vec4f(0.0), vec4f(part[pb + 2u + e], part[pb + 3u + e], part[pb + 4u + e], part[pb + 5u + e]), mask); }
    }
  }
  // Rows of quads: KV rows are padded to whole quads (zeros), so a head_dim need not be a multiple of 4.
  // Keys four at a time: one rescale of each accumulator, and one pass over it, per four keys.
  let stride = p.nkv * quads;
  for (var r = k0; r < kEnd; r += 4u) {
    let kb = (r * p.nkv + g) * quads;
    var d: array<vec4f, MAX_QT>;
    for (var a = 0u; a < QT; a++) { d[a] = vec4f(0.0); }
    // APPEND: which of the four keys is the token's own (none on other pages).
    let mine = vec4u(r, r + 1u, r + 2u, r + 3u) == vec4u(own);
    for (var c = 0u; c < quads; c++) {
      var k0v = kQuad(kb + c);
      var k1v = kQuad(kb + stride + c);
      var k2v = kQuad(kb + 2u * stride + c);
      var k3v = kQuad(kb + 3u * stride + c);
      if (APPEND == 1u && any(mine)) { // the token's own key, not in the cache yet, in one group of four keys
        let own4 = ownQuad(p.kCol + g * HD, c, true);
        k0v = select(k0v, own4, mine.x);
        k1v = select(k1v, own4, mine.y);
        k2v = select(k2v, own4, mine.z);
        k3v = select(k3v, own4, mine.w);
      }
      for (var a = 0u; a < QT; a++) {
        let qa = qv[a * quads + c];
        d[a] += vec4f(dot(qa, k0v), dot(qa, k1v), dot(qa, k2v), dot(qa, k3v));
      }
    }
    var corr: array<f32, MAX_QT>;
    var pr: array<vec4f, MAX_QT>;
    for (var a = 0u; a < QT; a++) {
      let valid = vec4u(r, r + 1u, r + 2u, r + 3u) < vec4u(end[a]);
      let da = select(vec4f(NONE), d[a], valid);
      let mNew = max(m[a], max(max(da.x, da.y), max(da.z, da.w)));
      corr[a] = exp(m[a] - mNew);
      pr[a] = select(vec4f(0.0), exp(da - vec4f(mNew)), valid);
      l[a] = l[a] * corr[a] + dot(pr[a], vec4f(1.0));
      m[a] = mNew;
    }
    for (var c = 0u; c < quads; c++) {
      var v0 = vQuad(kb + c);
      var v1 = vQuad(kb + stride + c);
      var v2 = vQuad(kb + 2u * stride + c);
      var v3 = vQuad(kb + 3u * stride + c);
      if (APPEND == 1u && any(mine)) {
        let own4 = ownQuad(p.vCol + g * HD, c, false);
        v0 = select(v0, own4, mine.x);
        v1 = select(v1, own4, mine.y);
        v2 = select(v2, own4, mine.z);
        v3 = select(v3, own4, mine.w);
      }
      for (var a = 0u; a < QT; a++) {
        let w = pr[a];
        acc[a * quads + c] = acc[a * quads + c] * corr[a] + w.x * v0 + w.y * v1 + w.z * v2 + w.w * v3;
      }
    }
  }
  // APPEND: kv head g's first query head appends the token's key and value, from the split that holds its row.
  if (APPEND == 1u && own < p.pageLen && own >= k0 && own < k0 + chunk && j % (p.nh / p.nkv) == 0u) {
    let at = (own * p.nkv + g) * quads;
    for (var c = 0u; c < quads; c++) {
      storeQuad(false, at + c, ownQuad(p.kCol + g * HD, c, true));
      storeQuad(true, at + c, ownQuad(p.vCol + g * HD, c, false));
    }
  }
  for (var a = 0u; a < QT; a++) {
    let t = t0 + a;
    if (t >= p.n) { break; }
    if (FINAL == 1u) {
      let ob = (t * p.nh + j) * HD;
      for (var c = 0u; c < HD; c++) { o[ob + c] = acc[a * quads + c / 4u][c % 4u] / l[a]; }
      continue;
    }
    let pb = ((t * p.nh + j) * p.splits + s) * (2u + HD);
    part[pb] = m[a];
    part[pb + 1u] = l[a];
    for (var c = 0u; c < HD; c++) { part[pb + 2u + c] = acc[a * quads + c / 4u][c % 4u]; }
  }
}

@compute @workgroup_size(64)
fn reduce(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * 65535u * 64u;
  if (i >= p.n * p.nh * p.hd) { return; }
  let c = i % p.hd;
  let tj = i / p.hd;
  let b = tj * p.splits * (2u + p.hd);
  var m = NONE;
  for (var s = 0u; s < p.splits; s++) { m = max(m, part[b + s * (2u + p.hd)]); }
  var l = 0.0;
  var a = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    let sb = b + s * (2u + p.hd);
    let w = exp(part[sb] - m); // 0 for a split that saw no key
    l += part[sb + 1u] * w;
    a += part[sb + 2u + c] * w;
  }
  o[i] = a / l;
}
