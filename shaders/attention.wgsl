// Causal softmax attention with GQA over a paged KV cache, for n new queries at positions
// past .. past+n-1 (prefill: n tokens; decode: n = 1), flash-decoding style and without barriers
// (very slow on software adapters). Two entry points:
//   page: one dispatch per KV page. An invocation owns (query t, head j, split s) and runs an online
//     softmax over its split of the page's keys, continuing the running (m, l, acc) it left in `part`
//     after the page before (so a long context needs no scratch per page). Splitting each page's keys
//     `splits` ways keeps enough invocations busy when there are few queries (decode).
//   reduce: combines the splits of each (t, j) into o.
// Query head j reads kv head j / (nh / nkv).
struct Params {
  n: u32, nh: u32, nkv: u32, hd: u32, past: u32, scale: f32, qStride: u32,
  splits: u32, page0: u32, pageLen: u32, first: u32,
}
const MAX_HD = 256u;
const NONE = -3.0e38; // the running max before any key

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;          // [n, qStride] f32, the nh heads first, RoPE applied
@group(0) @binding(2) var<storage, read> kc: array<vec4f>;       // one page: [pageLen (or more), nkv, ⌈hd/4⌉] quads, zero past hd; tokens page0 …
@group(0) @binding(3) var<storage, read> vc: array<vec4f>;       // one page, as kc
@group(0) @binding(4) var<storage, read_write> part: array<f32>; // [n, nh, splits, 2 + hd]: m, l, acc of each split
@group(0) @binding(5) var<storage, read_write> o: array<f32>;    // [n, nh, hd] f32

@compute @workgroup_size(64)
fn page(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * 65535u * 64u;
  if (i >= p.n * p.nh * p.splits) { return; }
  // Neighbouring invocations take neighbouring queries of one head and split: they read the same keys.
  let t = i % p.n;
  let j = (i / p.n) % p.nh;
  let s = i / (p.n * p.nh);
  let g = j / (p.nh / p.nkv);
  let pb = ((t * p.nh + j) * p.splits + s) * (2u + p.hd);
  let quads = (p.hd + 3u) / 4u;
  var m = NONE;
  var l = 0.0;
  // Registers as quads: one loop step moves four channels.
  var acc: array<vec4f, MAX_HD / 4u>;
  var qv: array<vec4f, MAX_HD / 4u>;
  let qb = t * p.qStride + j * p.hd;
  for (var c = 0u; c < quads; c++) {
    let e = 4u * c;
    let mask = vec4u(e, e + 1u, e + 2u, e + 3u) < vec4u(p.hd);
    qv[c] = select(vec4f(0.0), vec4f(q[qb + e], q[qb + e + 1u], q[qb + e + 2u], q[qb + e + 3u]) * p.scale, mask);
    acc[c] = vec4f(0.0);
    if (p.first == 0u) { acc[c] = select(vec4f(0.0), vec4f(part[pb + 2u + e], part[pb + 3u + e], part[pb + 4u + e], part[pb + 5u + e]), mask); }
  }
  if (p.first == 0u) {
    m = part[pb];
    l = part[pb + 1u];
  }
  // Rows of quads: KV rows are padded to whole quads (zeros), so a head_dim need not be a multiple of 4.
  // This split's keys of the page, cut at the last one the query sees (causal).
  let chunk = (p.pageLen + p.splits - 1u) / p.splits;
  let visible = min(p.pageLen, select(0u, p.past + t + 1u - p.page0, p.past + t + 1u > p.page0));
  let k0 = s * chunk;
  let k1 = min(k0 + chunk, visible);
  // Keys four at a time: one rescale of the accumulator, and one pass over it, per four keys.
  var r = k0;
  for (; r + 4u <= k1; r += 4u) {
    let kb = (r * p.nkv + g) * quads;
    let stride = p.nkv * quads;
    var d0 = vec4f(0.0);
    var d1 = vec4f(0.0);
    var d2 = vec4f(0.0);
    var d3 = vec4f(0.0);
    for (var c = 0u; c < quads; c++) {
      let qc = qv[c];
      d0 += qc * kc[kb + c];
      d1 += qc * kc[kb + stride + c];
      d2 += qc * kc[kb + 2u * stride + c];
      d3 += qc * kc[kb + 3u * stride + c];
    }
    let one = vec4f(1.0);
    let d = vec4f(dot(d0, one), dot(d1, one), dot(d2, one), dot(d3, one));
    let mNew = max(m, max(max(d.x, d.y), max(d.z, d.w)));
    let corr = exp(m - mNew);
    let pr = exp(d - vec4f(mNew));
    l = l * corr + dot(pr, one);
    for (var c = 0u; c < quads; c++) {
      acc[c] = acc[c] * corr + pr.x * vc[kb + c] + pr.y * vc[kb + stride + c] + pr.z * vc[kb + 2u * stride + c] + pr.w * vc[kb + 3u * stride + c];
    }
    m = mNew;
  }
  for (; r < k1; r++) {
    let kb = (r * p.nkv + g) * quads;
    var d4 = vec4f(0.0);
    for (var c = 0u; c < quads; c++) { d4 += qv[c] * kc[kb + c]; }
    let d = d4.x + d4.y + d4.z + d4.w;
    let mNew = max(m, d);
    let corr = exp(m - mNew);
    let pr = exp(d - mNew);
    l = l * corr + pr;
    for (var c = 0u; c < quads; c++) { acc[c] = acc[c] * corr + pr * vc[kb + c]; }
    m = mNew;
  }
  part[pb] = m;
  part[pb + 1u] = l;
  for (var c = 0u; c < p.hd; c++) { part[pb + 2u + c] = acc[c / 4u][c % 4u]; }
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
