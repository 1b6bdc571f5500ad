// Packed weights: every weight binding is array<u32>. WDTYPE picks the stored format:
// 0 = f32 (one word per element), 1 = f16, 2 = bf16 (two elements per word, element 2i in the low half),
// 3 = int8, 4 = int4: block-quantized along k (src/model/quantize.ts has the layout), their scales in a
// second binding of the same buffer. Weights stay packed on the GPU; they are widened to f32 at the load.
override WDTYPE: u32 = 0u;
// Elements per quantization block: 32 for int8, 16 for int4 (src/model/quantize.ts says why).
override QBLOCK: u32 = select(32u, 16u, WDTYPE == 4u);

// Word of a packed weight array that holds element i (float formats: i counts row-major elements).
fn wordOf(i: u32) -> u32 {
  return select(i >> 1u, i, WDTYPE == 0u);
}

// Element i, given the word that holds it (float formats).
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

// Word holding element (r, c) of a [rows, k] matrix, in any format.
fn wordAt(r: u32, c: u32, k: u32) -> u32 {
  if (WDTYPE == 3u) { return r * ((k + QBLOCK - 1u) / QBLOCK) * 8u + (c >> 2u); }
  if (WDTYPE == 4u) { return r * ((k + QBLOCK - 1u) / QBLOCK) * 2u + (c >> 3u); }
  return wordOf(r * k + c);
}

// Scale word of element (r, c) (quantized formats).
fn scaleAt(r: u32, c: u32, k: u32) -> u32 {
  return r * ((k + QBLOCK - 1u) / QBLOCK) + c / QBLOCK;
}

// Element (r, c) from its word and (quantized formats) its block's scale word: q·s + m.
fn weightAt(word: u32, scale: u32, r: u32, c: u32, k: u32) -> f32 {
  if (WDTYPE < 3u) { return unpackW(word, r * k + c); }
  let sm = unpack2x16float(scale);
  var q: f32;
  if (WDTYPE == 3u) { q = f32(bitcast<i32>(word << (24u - 8u * (c & 3u))) >> 24u); }
  else { q = f32((word >> (4u * (c & 7u))) & 15u); }
  return q * sm.x + sm.y;
}
