// Causal softmax attention with GQA over a KV cache, for n new queries at positions past .. past+n-1
// (prefill: n tokens; decode: n = 1). Query head j reads kv head j / (nh / nkv). One workgroup per
// (query, head): keys are scored WG at a time and folded into an online softmax; each thread owns the
// output channels c ≡ tid (mod WG), so the accumulator needs no synchronisation.
struct Params { n: u32, nh: u32, nkv: u32, hd: u32, past: u32, scale: f32, qStride: u32 }
override WG: u32 = 64u;
override HD: u32 = 64u; // head_dim: sizes the accumulator

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;       // [n, qStride] f32, the nh heads first, RoPE applied
@group(0) @binding(2) var<storage, read> kc: array<f32>;      // [past + n (or more), nkv, hd] f32
@group(0) @binding(3) var<storage, read> vc: array<f32>;      // [past + n (or more), nkv, hd] f32
@group(0) @binding(4) var<storage, read_write> o: array<f32>; // [n, nh, hd] f32

var<workgroup> scores: array<f32, WG>;
var<workgroup> acc: array<f32, HD>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wid.x;
  let j = wid.y;
  let g = j / (p.nh / p.nkv);
  let total = p.past + t + 1u; // keys visible to this query (causal)
  let qb = t * p.qStride + j * p.hd;
  let ob = (t * p.nh + j) * p.hd;
  for (var c = tid; c < p.hd; c += WG) { acc[c] = 0.0; }
  var m = -3.0e38;
  var l = 0.0;
  for (var s0 = 0u; s0 < total; s0 += WG) {
    let s = s0 + tid;
    var sc = -3.0e38;
    if (s < total) {
      let kb = (s * p.nkv + g) * p.hd;
      var d = 0.0;
      for (var c = 0u; c < p.hd; c++) { d += q[qb + c] * kc[kb + c]; }
      sc = d * p.scale;
    }
    scores[tid] = sc;
    workgroupBarrier();
    let cnt = min(WG, total - s0);
    var mNew = m;
    for (var i = 0u; i < cnt; i++) { mNew = max(mNew, scores[i]); }
    let corr = exp(m - mNew);
    l *= corr;
    for (var c = tid; c < p.hd; c += WG) { acc[c] *= corr; }
    for (var i = 0u; i < cnt; i++) {
      let pr = exp(scores[i] - mNew);
      l += pr;
      let vb = ((s0 + i) * p.nkv + g) * p.hd;
      for (var c = tid; c < p.hd; c += WG) { acc[c] += pr * vc[vb + c]; }
    }
    m = mNew;
    workgroupBarrier();
  }
  for (var c = tid; c < p.hd; c += WG) { o[ob + c] = acc[c] / l; }
}
