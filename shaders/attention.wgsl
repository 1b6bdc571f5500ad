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
@group(0) @binding(2) var<storage, read> kc: array<f32>;         // one page: [pageLen (or more), nkv, hd] f32, tokens page0 …
@group(0) @binding(3) var<storage, read> vc: array<f32>;         // one page, as kc
@group(0) @binding(4) var<storage, read_write> part: array<f32>; // [n, nh, splits, 2 + hd]: m, l, acc of each split
@group(0) @binding(5) var<storage, read_write> o: array<f32>;    // [n, nh, hd] f32

@compute @workgroup_size(64)
fn page(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * 65535u * 64u;
  if (i >= p.n * p.nh * p.splits) { return; }
  let s = i % p.splits;
  let j = (i / p.splits) % p.nh;
  let t = i / (p.splits * p.nh);
  let g = j / (p.nh / p.nkv);
  let pb = i * (2u + p.hd);
  var m = NONE;
  var l = 0.0;
  var acc: array<f32, MAX_HD>;
  if (p.first == 0u) {
    m = part[pb];
    l = part[pb + 1u];
    for (var c = 0u; c < p.hd; c++) { acc[c] = part[pb + 2u + c]; }
  } else {
    for (var c = 0u; c < p.hd; c++) { acc[c] = 0.0; }
  }
  var qv: array<f32, MAX_HD>;
  let qb = t * p.qStride + j * p.hd;
  for (var c = 0u; c < p.hd; c++) { qv[c] = q[qb + c] * p.scale; }
  // This split's keys of the page, cut at the last one the query sees (causal).
  let chunk = (p.pageLen + p.splits - 1u) / p.splits;
  let visible = min(p.pageLen, select(0u, p.past + t + 1u - p.page0, p.past + t + 1u > p.page0));
  let k0 = s * chunk;
  let k1 = min(k0 + chunk, visible);
  for (var r = k0; r < k1; r++) {
    let kb = (r * p.nkv + g) * p.hd;
    var d = 0.0;
    for (var c = 0u; c < p.hd; c++) { d += qv[c] * kc[kb + c]; }
    let mNew = max(m, d);
    let corr = exp(m - mNew);
    let pr = exp(d - mNew);
    l = l * corr + pr;
    for (var c = 0u; c < p.hd; c++) { acc[c] = acc[c] * corr + pr * vc[kb + c]; }
    m = mNew;
  }
  part[pb] = m;
  part[pb + 1u] = l;
  for (var c = 0u; c < p.hd; c++) { part[pb + 2u + c] = acc[c]; }
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
