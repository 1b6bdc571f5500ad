// A sum over the WG invocations of a workgroup that shares one row (a norm's Σx²): each invocation
// brings its strided part, a tree in workgroup memory adds them, every invocation gets the total.
// WG is the adapter's barrier workgroup (gpu.ts: 4 on SwiftShader, whose barriers switch between its
// groups of 4 lanes, 256 on a GPU), a power of two.
override WG: u32 = 256u;
var<workgroup> partSums: array<f32, WG>;

fn rowSum(part: f32, tid: u32) -> f32 {
  partSums[tid] = part;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (tid < stride) { partSums[tid] += partSums[tid + stride]; }
    workgroupBarrier();
  }
  return partSums[0];
}
