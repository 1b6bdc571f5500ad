// An RMSNorm folded into the kernel that first reads its output, for one decoded token on a CPU adapter
// (src/gpu/rmsnorm.ts foldsNorm): the reader binds the raw stream as `x`, the norm's weight as `normW`
// (f32: weights.ts widens norms where they fold, exactly; a plain load keeps xAt small, as it is
// inlined at every activation of every entry point) and the normed row's home as `h`. With NORM = 1,
// normRow sums the row as rmsnorm does and writes this invocation's share of h; xAt(i), the activation
// chunkDot.wgsl reads, is then h[i] as rmsnorm would have written it, bit for bit. With NORM = 0, x[i].
#include "rms.wgsl"

override NORM: u32 = 0u;
var<private> normBase: u32;
var<private> normInv: f32;

fn xAt(i: u32) -> f32 {
  if (NORM == 0u) { return x[i]; }
  return normW[i - normBase] * (x[i] * normInv);
}

// Before any xAt: the row at x[b] of dim channels; invocation `me` of `count` writes channels me, me + count, … of h.
fn normRow(b: u32, dim: u32, eps: f32, me: u32, count: u32) {
  if (NORM == 0u) { return; }
  normBase = b;
  normInv = inverseRms(sumSquares(b, 0u, 1u, dim), dim, eps);
  for (var c = me; c < dim; c += count) { h[b + c] = xAt(b + c); }
}
