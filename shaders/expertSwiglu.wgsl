// First half of one expert for the tokens routed to it (gathered by index, as ggml's mul_mat_id):
//   u[r, i] = SiLU(x[tok[tok0 + r]]·W1[i]) · (x[tok[tok0 + r]]·W3[i])     r < count, i < inter
// (tok0, count) of the expert come from `runs`, written by the CPU or by moePlan on the GPU. An
// invocation owns one row i of W1 and W3 and TT = 4 routed rows; when one token is decoded (TT = 1),
// 4 rows of W1 and W3 a quarter of them apart, so each activation it loads serves 4 rows (as gemv).
// A layer's resident experts are stacked in one W1 and one W3 (expert e: rows e·inter ..), so the
// `routed` entry point runs all of a token's choices in one dispatch.
#include "weights.wgsl"
#include "chunkDot.wgsl"

struct Params { hidden: u32, inter: u32, expert: u32, rows: u32, row0: u32, k: u32, experts: u32 }
override TT: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [n, hidden] f32
@group(0) @binding(2) var<storage, read> w1: array<vec4u>;    // [rows, hidden] tiled WDTYPE (gate proj; experts stacked)
@group(0) @binding(3) var<storage, read> w3: array<vec4u>;    // [rows, hidden] tiled WDTYPE (up proj; experts stacked)
@group(0) @binding(4) var<storage, read> tok: array<u32>;     // token of each routed row, grouped by expert
@group(0) @binding(5) var<storage, read> runs: array<u32>;    // [E, 2] first row and row count of each expert
@group(0) @binding(6) var<storage, read_write> u: array<f32>; // [count, inter] f32
@group(0) @binding(7) var<storage, read> ws1: array<u32>;     // W1's tiled block scales (int8, int4)
@group(0) @binding(8) var<storage, read> ws3: array<u32>;     // W3's tiled block scales (int8, int4)
@group(0) @binding(9) var<storage, read> idx: array<u32>;     // routed: [n, k] the router's choices

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
  let h = swiglu4(quarterRows(first, i, p.inter), xb);
  for (var m = 0u; m < 4u && i + m * q < p.inter; m++) { u[r * p.inter + i + m * q] = h[m]; }
}

// One expert (rows row0 .. row0 + inter of the bound matrices) over the rows routed to it.
override WG: u32 = 64u; // workgroup size: 64, or at one token Gpu.spread's (expertWorkgroup)
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let r0 = gid.y * TT;
  let tok0 = runs[2u * p.expert];
  let count = runs[2u * p.expert + 1u];
  let q = (p.inter + 3u) / 4u;
  if (r0 >= count || i >= select(p.inter, q, TT == 1u)) { return; }
  if (TT == 1u) {
    decodeRows(p.row0, i, tok[tok0 + r0] * p.hidden, r0);
    return;
  }
  // Rows past the end repeat the last one and are not written.
  let last = tok0 + count - 1u;
  let xb = vec4u(tok[tok0 + r0], tok[min(tok0 + r0 + 1u, last)], tok[min(tok0 + r0 + 2u, last)], tok[min(tok0 + r0 + 3u, last)]) * p.hidden;
  let h = swiglu(p.row0 + i, xb);
  let nr = min(TT, count - r0);
  for (var r = 0u; r < nr; r++) { u[(r0 + r) * p.inter + i] = h[r]; }
}

// Every choice of the router at once (decode): routed row j = t·k + m of token t runs expert idx[j]
// of the stacked experts, into u[j]; no plan, one dispatch for all experts (TT = 1).
@compute @workgroup_size(WG)
fn routed(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let j = gid.y;
  let q = (p.inter + 3u) / 4u;
  if (i >= q) { return; }
  let e = min(idx[j], p.experts - 1u); // in bounds whatever idx holds
  decodeRows(e * p.inter, i, (j / p.k) * p.hidden, j);
}
