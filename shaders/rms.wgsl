// Σx² of channels c0, c0 + step, … < dim of the row at x[b], and the inverse RMS a sum gives. Where a
// norm is folded into its reader (foldedNorm.wgsl), rmsnorm and the reader both sum a row in one
// invocation, channel by channel, so both give the same bits.
fn sumSquares(b: u32, c0: u32, step: u32, dim: u32) -> f32 {
  var ss = 0.0;
  for (var c = c0; c < dim; c += step) { ss += x[b + c] * x[b + c]; }
  return ss;
}

fn inverseRms(ss: f32, dim: u32, eps: f32) -> f32 {
  return 1.0 / sqrt(ss / f32(dim) + eps);
}
