// The SwiGLU rows of W1 and W3 for expertSwiglu.wgsl and normedSwiglu.wgsl, which bind p (hidden,
// inter, rows), w1, w3, ws1, ws3 and u, and define xAt (the activations, chunkDot.wgsl).

// The block scales of chunk j of W1 (which = 1) or W3.
fn scalesAt(which: u32, s0: u32, stride: u32, j: u32, blocks: u32) -> vec4f {
  if (WDTYPE < 3u) { return vec4f(0.0); }
  let b = chunkBlocks(j, blocks) * stride + s0;
  if (which == 1u) { return chunkScales(ws1[b.x], ws1[b.y]); }
  return chunkScales(ws3[b.x], ws3[b.y]);
}

// Row r of the bound matrices (W1 and W3 share their layout).
fn rowOf(r: u32) -> Row {
  return matrixRow(r, p.hidden, p.rows);
}
// Chunk j of W1 (which = 1) or W3 of a row, dotted with the activations xs.
fn rowDot(which: u32, q: Row, j: u32, xs: ChunkX) -> f32 {
  let sc = scalesAt(which, q.s0, q.stride, j, blocksOf(p.hidden));
  if (which == 1u) { return chunkDot(w1[q.w0 + j * q.stride], sc, xs); }
  return chunkDot(w3[q.w0 + j * q.stride], sc, xs);
}
fn rowTail(which: u32, q: Row, j: u32, i: u32, n: u32) -> f32 {
  let sc = scalesAt(which, q.s0, q.stride, j, blocksOf(p.hidden));
  if (which == 1u) { return tailDot(w1[q.w0 + j * q.stride], sc, i, n); }
  return tailDot(w3[q.w0 + j * q.stride], sc, i, n);
}

// Chunk j of W1 (which = 1) or W3 of 4 rows.
fn chunks4(which: u32, q0: Row, q1: Row, q2: Row, q3: Row, j: u32) -> Chunks4 {
  let blocks = blocksOf(p.hidden);
  if (which == 1u) {
    return Chunks4(w1[q0.w0 + j * q0.stride], w1[q1.w0 + j * q1.stride], w1[q2.w0 + j * q2.stride], w1[q3.w0 + j * q3.stride],
                   scalesAt(1u, q0.s0, q0.stride, j, blocks), scalesAt(1u, q1.s0, q1.stride, j, blocks), scalesAt(1u, q2.s0, q2.stride, j, blocks), scalesAt(1u, q3.s0, q3.stride, j, blocks));
  }
  return Chunks4(w3[q0.w0 + j * q0.stride], w3[q1.w0 + j * q1.stride], w3[q2.w0 + j * q2.stride], w3[q3.w0 + j * q3.stride],
                 scalesAt(3u, q0.s0, q0.stride, j, blocks), scalesAt(3u, q1.s0, q1.stride, j, blocks), scalesAt(3u, q2.s0, q2.stride, j, blocks), scalesAt(3u, q3.s0, q3.stride, j, blocks));
}

// SiLU(x·W1[r])·(x·W3[r]) for 4 rows rs and the 4 activation rows at xb (prefill, TT = 4), [token][row]:
// each weight chunk loaded serves 4 tokens, each activation chunk 4 rows; each sum in swiglu4's order.
fn swiglu(rs: vec4u, xb: vec4u) -> mat4x4f {
  let q0 = rowOf(rs.x);
  let q1 = rowOf(rs.y);
  let q2 = rowOf(rs.z);
  let q3 = rowOf(rs.w);
  let full = p.hidden / CHUNK;
  var a = mat4x4f();
  var b = mat4x4f();
  for (var j = 0u; j < full; j++) {
    a += tokens4(chunks4(1u, q0, q1, q2, q3, j), xb, j * CHUNK);
    b += tokens4(chunks4(3u, q0, q1, q2, q3, j), xb, j * CHUNK);
  }
  let c = full * CHUNK;
  if (c < p.hidden) {
    a += tailTokens4(chunks4(1u, q0, q1, q2, q3, full), xb, c, p.hidden - c);
    b += tailTokens4(chunks4(3u, q0, q1, q2, q3, full), xb, c, p.hidden - c);
  }
  return mat4x4f(silu(a[0]) * b[0], silu(a[1]) * b[1], silu(a[2]) * b[2], silu(a[3]) * b[3]);
}

fn silu(v: vec4f) -> vec4f {
  return v / (1.0 + exp(-v));
}

// The same for 4 rows rs and one activation row at xb (decode, TT = 1): row by row, the same sums.
fn swiglu4(rs: vec4u, xb: u32) -> vec4f {
  let q0 = rowOf(rs.x);
  let q1 = rowOf(rs.y);
  let q2 = rowOf(rs.z);
  let q3 = rowOf(rs.w);
  let full = p.hidden / CHUNK;
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  for (var j = 0u; j < full; j++) {
    let xs = chunkX(xb + j * CHUNK);
    a += vec4f(rowDot(1u, q0, j, xs), rowDot(1u, q1, j, xs), rowDot(1u, q2, j, xs), rowDot(1u, q3, j, xs));
    b += vec4f(rowDot(3u, q0, j, xs), rowDot(3u, q1, j, xs), rowDot(3u, q2, j, xs), rowDot(3u, q3, j, xs));
  }
  let c = full * CHUNK;
  if (c < p.hidden) {
    let n = p.hidden - c;
    let i = xb + c;
    a += vec4f(rowTail(1u, q0, full, i, n), rowTail(1u, q1, full, i, n), rowTail(1u, q2, full, i, n), rowTail(1u, q3, full, i, n));
    b += vec4f(rowTail(3u, q0, full, i, n), rowTail(3u, q1, full, i, n), rowTail(3u, q2, full, i, n), rowTail(3u, q3, full, i, n));
  }
  return silu(a) * b;
}

// Decode: invocation i's 4 rows of the expert whose rows start at `first`, for the activation row at
// xb, into routed row r of u.
fn decodeRows(first: u32, i: u32, xb: u32, r: u32) {
  let q = (p.inter + 3u) / 4u;
  let v = swiglu4(quarterRows(first, i, p.inter), xb);
  for (var m = 0u; m < 4u && i + m * q < p.inter; m++) { u[r * p.inter + i + m * q] = v[m]; }
}
