// RoPE and the KV cache's f16 words, for ropeAppend.wgsl and attention.wgsl (decode, APPEND).
// RoPE is rotate-half (NeoX) on the first rd channels of a head: channel c pairs with c + rd/2
// (c < rd/2), channels rd .. hd pass through; cos/sin come from a table computed on the CPU in double
// precision (WGSL sin/cos are only accurate on [-π, π]). The including shader has p.rd, the table `cs`
// ([rows, rd/2, 2]: cos, sin) and ropeIn(i), value i of its q|k|v rows.

// Channel e of the head at ropeIn(b), turned. cs0: the token's cos/sin row.
fn turned(b: u32, cs0: u32, e: u32) -> f32 {
  let half = p.rd / 2u;
  if (e < half) { return ropeIn(b + e) * cs[cs0 + 2u * e] - ropeIn(b + e + half) * cs[cs0 + 2u * e + 1u]; }
  if (e < p.rd) { return ropeIn(b + e) * cs[cs0 + 2u * (e - half)] + ropeIn(b + e - half) * cs[cs0 + 2u * (e - half) + 1u]; }
  return ropeIn(b + e);
}

// Two channels as a cache word of f16 halves, clamped to the largest half: pack2x16float leaves a value
// past it undefined, and an infinite value times attention's zero weight for a key past the causal end
// would be NaN.
const F16_MAX = 65504.0;
fn halvesWord(v: vec2f) -> u32 {
  return pack2x16float(clamp(v, vec2f(-F16_MAX), vec2f(F16_MAX)));
}
