// MoE router (MODEL.md §4.5) on router logits z = h·W_gateᵀ: softmax over all E experts, keep the k
// largest, renormalise. Ordering by z equals ordering by softmax(z); ties go to the lower expert index.
// The renormalised weights are the softmax over the k chosen logits.
struct Params { n: u32, experts: u32, k: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;            // [n, E] f32 router logits
@group(0) @binding(2) var<storage, read_write> idx: array<u32>;    // [n, k] chosen experts, best first
@group(0) @binding(3) var<storage, read_write> weight: array<f32>; // [n, k] routing weights

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t >= p.n) { return; }
  let zb = t * p.experts;
  let ob = t * p.k;
  for (var s = 0u; s < p.k; s++) {
    var best = p.experts;
    var bestZ = 0.0;
    for (var e = 0u; e < p.experts; e++) {
      var taken = false;
      for (var s2 = 0u; s2 < s; s2++) { taken = taken || idx[ob + s2] == e; }
      if (!taken && (best == p.experts || z[zb + e] > bestZ)) {
        best = e;
        bestZ = z[zb + e];
      }
    }
    idx[ob + s] = best;
  }
  let top = z[zb + idx[ob]];
  var sum = 0.0;
  for (var s = 0u; s < p.k; s++) { sum += exp(z[zb + idx[ob + s]] - top); }
  for (var s = 0u; s < p.k; s++) { weight[ob + s] = exp(z[zb + idx[ob + s]] - top) / sum; }
}
