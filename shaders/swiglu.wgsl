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

// SiLU(x·W1[r])·(x·W3[r]) for one row r and the 4 activation rows at xb (prefill, TT = 4): each
// weight chunk loaded once serves 4 tokens.
fn swiglu(r: u32, xb: vec4u) -> vec4f {
  let q = rowOf(r);
  let blocks = blocksOf(p.hidden);
  let full = p.hidden / CHUNK;
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  for (var j = 0u; j < full; j++) {
    let v1 = w1[q.w0 + j * q.stride];
    let v3 = w3[q.w0 + j * q.stride];
    let sc1 = scalesAt(1u, q.s0, q.stride, j, blocks);
    let sc3 = scalesAt(3u, q.s0, q.stride, j, blocks);
    let c = j * CHUNK;
    let x0 = chunkX(xb.x + c);
    let x1 = chunkX(xb.y + c);
    let x2 = chunkX(xb.z + c);
    let x3 = chunkX(xb.w + c);
    a += vec4f(chunkDot(v1, sc1, x0), chunkDot(v1, sc1, x1), chunkDot(v1, sc1, x2), chunkDot(v1, sc1, x3));
    b += vec4f(chunkDot(v3, sc3, x0), chunkDot(v3, sc3, x1), chunkDot(v3, sc3, x2), chunkDot(v3, sc3, x3));
  }
  let c = full * CHUNK;
  if (c < p.hidden) {
    let v1 = w1[q.w0 + full * q.stride];
    let v3 = w3[q.w0 + full * q.stride];
    let sc1 = scalesAt(1u, q.s0, q.stride, full, blocks);
    let sc3 = scalesAt(3u, q.s0, q.stride, full, blocks);
    let n = p.hidden - c;
    a += vec4f(tailDot(v1, sc1, xb.x + c, n), tailDot(v1, sc1, xb.y + c, n), tailDot(v1, sc1, xb.z + c, n), tailDot(v1, sc1, xb.w + c, n));
    b += vec4f(tailDot(v3, sc3, xb.x + c, n), tailDot(v3, sc3, xb.y + c, n), tailDot(v3, sc3, xb.z + c, n), tailDot(v3, sc3, xb.w + c, n));
  }
  return a / (1.0 + exp(-a)) * b;
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
  return a / (1.0 + exp(-a)) * b;
}

// Decode: invocation i's 4 rows of the expert whose rows start at `first`, for the activation row at
// xb, into routed row r of u.
fn decodeRows(first: u32, i: u32, xb: u32, r: u32) {
  let q = (p.inter + 3u) / 4u;
  let v = swiglu4(quarterRows(first, i, p.inter), xb);
  for (var m = 0u; m < 4u && i + m * q < p.inter; m++) { u[r * p.inter + i + m * q] = v[m]; }
}
