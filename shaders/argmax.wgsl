// Greedy sampling: index of the largest of count logits (the first one on ties, as numpy's argmax).
// One workgroup: strided scan per thread, then a tree reduction.
struct Params { count: u32, offset: u32, slot: u32 }
override WG: u32 = 256u; // a power of two

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;    // [offset + count] f32
@group(0) @binding(2) var<storage, read_write> out: array<u32>; // [slot + 1]

var<workgroup> bestV: array<f32, WG>;
var<workgroup> bestI: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32) {
  var bv = -3.4e38;
  var bi = 0xffffffffu;
  for (var i = tid; i < p.count; i += WG) {
    let v = logits[p.offset + i];
    if (bi == 0xffffffffu || v > bv) { bv = v; bi = i; }
  }
  bestV[tid] = bv;
  bestI[tid] = bi;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (tid < stride) {
      let ov = bestV[tid + stride];
      let oi = bestI[tid + stride];
      if (oi != 0xffffffffu && (bestI[tid] == 0xffffffffu || ov > bestV[tid] || (ov == bestV[tid] && oi < bestI[tid]))) {
        bestV[tid] = ov;
        bestI[tid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (tid == 0u) { out[p.slot] = bestI[0]; }
}
