// Packed weights: every weight binding is array<u32>. WDTYPE picks the stored format:
// 0 = f32 (one word per element), 1 = f16, 2 = bf16 (two elements per word, element 2i in the low half).
// Weights stay packed on the GPU; they are widened to f32 here, at the load.
override WDTYPE: u32 = 0u;

// Word of a packed weight array that holds element i.
fn wordOf(i: u32) -> u32 {
  return select(i >> 1u, i, WDTYPE == 0u);
}

// Element i, given the word that holds it.
fn unpackW(word: u32, i: u32) -> f32 {
  if (WDTYPE == 0u) {
    return bitcast<f32>(word);
  }
  let high = (i & 1u) == 1u;
  if (WDTYPE == 1u) {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, high);
  }
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, high));
}
