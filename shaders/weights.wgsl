// Packed weights. WDTYPE picks the stored format: 0 = f32, 1 = f16, 2 = bf16 (element 2i in the low
// half of a word), 3 = int8, 4 = int4 (block-quantized along k, their scales in a second binding of the
// same buffer). Weights stay packed on the GPU and are widened to f32 at the load.
// Vectors (norms) are flat arrays of u32 words; matrices are tiled images of 16-byte chunks, bound as
// array<vec4u> (src/gpu/weightImage.ts has the layout).
override WDTYPE: u32 = 0u;
// Elements per quantization block: 32 for int8, 16 for int4 (src/model/quantize.ts says why).
override QBLOCK: u32 = select(32u, 16u, WDTYPE == 4u);
// Rows a tile (src/gpu/weightImage.ts): 64 where neighbouring invocations should read neighbouring
// chunks (GPUs), 1 (row-major) where each invocation streams its own rows fastest (CPU adapters).
override TILE_ROWS: u32 = 64u;
// Elements in one 16-byte chunk, and 4-element quads in it.
override CHUNK: u32 = select(select(select(4u, 8u, WDTYPE == 1u || WDTYPE == 2u), 16u, WDTYPE == 3u), 32u, WDTYPE == 4u);
override QUADS: u32 = CHUNK / 4u;

// Element i of a flat vector, given the word that holds it (float formats).
fn wordOf(i: u32) -> u32 {
  return select(i >> 1u, i, WDTYPE == 0u);
}
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

// Chunks of a row of k elements.
fn chunksOf(k: u32) -> u32 {
  return (k + CHUNK - 1u) / CHUNK;
}
// Blocks of a row of k elements (quantized formats).
fn blocksOf(k: u32) -> u32 {
  return (k + QBLOCK - 1u) / QBLOCK;
}

// In a tiled array of `units` units a row and `rows` rows (chunks: vec4 index; block scales: word
// index), unit j of row r is at tileStart(r, units, rows) + j·tileStride(r, rows).
fn tileStart(r: u32, units: u32, rows: u32) -> u32 {
  return (r - r % TILE_ROWS) * units + r % TILE_ROWS;
}
fn tileStride(r: u32, rows: u32) -> u32 {
  return min(TILE_ROWS, rows - (r - r % TILE_ROWS));
}

// Where row r of a tiled matrix of `rows` rows of k elements has its first chunk (w0) and block scale
// (s0), and how far apart its units are (stride).
struct Row { w0: u32, s0: u32, stride: u32 }
fn matrixRow(r: u32, k: u32, rows: u32) -> Row {
  return Row(tileStart(r, chunksOf(k), rows), tileStart(r, blocksOf(k), rows), tileStride(r, rows));
}

// Rows first + {0, q, 2q, 3q} of a matrix part of `count` rows (q = ⌈count/4⌉), those past the end
// repeating its last (read, not written): the 4 rows of one-token kernels, which load each activation
// once for 4 rows, and neighbouring invocations on neighbouring rows.
fn quarterRows(first: u32, i: u32, count: u32) -> vec4u {
  let q = (count + 3u) / 4u;
  return first + min(vec4u(i, i + q, i + 2u * q, i + 3u * q), vec4u(count - 1u));
}

// The blocks of chunk j whose scales it needs: int8 has two chunks a block, int4 two blocks a chunk
// (the second past the row's end when k ends in the chunk's first half).
fn chunkBlocks(j: u32, blocks: u32) -> vec2u {
  if (WDTYPE == 3u) { return vec2u(j / 2u); }
  return vec2u(2u * j, min(2u * j + 1u, blocks - 1u));
}

// (s, m) of the chunk's first block in .xy, of its second (int4) in .zw, from their scale words.
fn chunkScales(first: u32, second: u32) -> vec4f {
  return vec4f(unpack2x16float(first), unpack2x16float(second));
}

// Element e of chunk v, dequantized with the chunk's scales.
fn elementOf(v: vec4u, e: u32, sc: vec4f) -> f32 {
  if (WDTYPE == 0u) { return bitcast<f32>(v[e]); }
  let high = (e & 1u) == 1u;
  if (WDTYPE == 1u) {
    let pair = unpack2x16float(v[e / 2u]);
    return select(pair.x, pair.y, high);
  }
  if (WDTYPE == 2u) { return bitcast<f32>(select(v[e / 2u] << 16u, v[e / 2u] & 0xffff0000u, high)); }
  if (WDTYPE == 3u) { return f32(bitcast<i32>(v[e / 4u] << (24u - 8u * (e % 4u))) >> 24u) * sc.x; }
  let s = select(sc.xy, sc.zw, e >= 16u);
  return f32((v[e / 8u] >> (8u * (e % 4u) + 4u * ((e / 4u) % 2u))) & 15u) * s.x + s.y;
}
