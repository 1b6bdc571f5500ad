// Second half of one expert, scattered back with its routing weight:
//   out[tok[tok0 + r], c] += weight[tok0 + r] · (u[r]·W2[c])     r < count, c < hidden
// Experts run one after another, and a token appears at most once per expert, so no two invocations of
// one dispatch touch the same output element. An invocation owns one row c of W2 and TT = 4 routed
// rows; when one token is decoded (TT = 1), 4 rows of W2 a quarter of them apart (as gemv). A layer's resident experts are stacked in one W2 (expert e:
// rows e·hidden ..), so the `routed` entry point sums all of a token's choices in one dispatch.
#include "weights.wgsl"
#include "chunkDot.wgsl"

struct Params { hidden: u32, inter: u32, expert: u32, rows: u32, row0: u32, k: u32, experts: u32, alpha: f32, beta: f32 }
override TT: u32 = 4u;
// routed, 1: out = alpha·res + beta·(the sum), the residual join fused in (res laid out as out)
override RESIDUAL: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // u: [count, inter] f32
@group(0) @binding(2) var<storage, read> w2: array<vec4u>;      // [rows, inter] tiled WDTYPE (down proj; experts stacked)
@group(0) @binding(3) var<storage, read> tok: array<u32>;       // token of each routed row, grouped by expert
@group(0) @binding(4) var<storage, read> weight: array<f32>;    // routing weight of each routed row (routed: [n, k])
@group(0) @binding(5) var<storage, read> runs: array<u32>;      // [E, 2] first row and row count of each expert
@group(0) @binding(6) var<storage, read_write> out: array<f32>; // [n, hidden] f32, accumulated
@group(0) @binding(7) var<storage, read> ws2: array<u32>;       // W2's tiled block scales (int8, int4)
@group(0) @binding(8) var<storage, read> idx: array<u32>;       // routed: [n, k] the router's choices
@group(0) @binding(9) var<storage, read> res: array<f32>;       // routed: r of the residual join

fn xAt(i: u32) -> f32 {
  return x[i];
}

// The block scales of chunk j.
fn scalesAt(s0: u32, stride: u32, j: u32, blocks: u32) -> vec4f {
  if (WDTYPE < 3u) { return vec4f(0.0); }
  let b = chunkBlocks(j, blocks) * stride + s0;
  return chunkScales(ws2[b.x], ws2[b.y]);
}

// Row r of the bound W2.
fn rowOf(r: u32) -> Row {
  return matrixRow(r, p.inter, p.rows);
}

// Row r of the bound W2 times the 4 rows of u at ub (prefill, TT = 4): each chunk loaded once serves 4.
fn down(r: u32, ub: vec4u) -> vec4f {
  let q = rowOf(r);
  let blocks = blocksOf(p.inter);
  let full = p.inter / CHUNK;
  var acc = vec4f(0.0);
  for (var j = 0u; j < full; j++) {
    let v = w2[q.w0 + j * q.stride];
    let sc = scalesAt(q.s0, q.stride, j, blocks);
    let i = j * CHUNK;
    acc += vec4f(chunkDot(v, sc, chunkX(ub.x + i)), chunkDot(v, sc, chunkX(ub.y + i)), chunkDot(v, sc, chunkX(ub.z + i)), chunkDot(v, sc, chunkX(ub.w + i)));
  }
  let i = full * CHUNK;
  if (i < p.inter) {
    let v = w2[q.w0 + full * q.stride];
    let sc = scalesAt(q.s0, q.stride, full, blocks);
    let n = p.inter - i;
    acc += vec4f(tailDot(v, sc, ub.x + i, n), tailDot(v, sc, ub.y + i, n), tailDot(v, sc, ub.z + i, n), tailDot(v, sc, ub.w + i, n));
  }
  return acc;
}

fn rowDot(q: Row, j: u32, xs: ChunkX) -> f32 {
  return chunkDot(w2[q.w0 + j * q.stride], scalesAt(q.s0, q.stride, j, blocksOf(p.inter)), xs);
}
fn rowTail(q: Row, j: u32, i: u32, n: u32) -> f32 {
  return tailDot(w2[q.w0 + j * q.stride], scalesAt(q.s0, q.stride, j, blocksOf(p.inter)), i, n);
}

// 4 rows rs of W2 times one row of u at ub (decode, TT = 1): row by row, the same sums as down.
fn down4(rs: vec4u, ub: u32) -> vec4f {
  let q0 = rowOf(rs.x);
  let q1 = rowOf(rs.y);
  let q2 = rowOf(rs.z);
  let q3 = rowOf(rs.w);
  let full = p.inter / CHUNK;
  var acc = vec4f(0.0);
  for (var j = 0u; j < full; j++) {
    let xs = chunkX(ub + j * CHUNK);
    acc += vec4f(rowDot(q0, j, xs), rowDot(q1, j, xs), rowDot(q2, j, xs), rowDot(q3, j, xs));
  }
  let i = full * CHUNK;
  if (i < p.inter) {
    let n = p.inter - i;
    acc += vec4f(rowTail(q0, full, ub + i, n), rowTail(q1, full, ub + i, n), rowTail(q2, full, ub + i, n), rowTail(q3, full, ub + i, n));
  }
  return acc;
}

// One expert (rows row0 .. row0 + hidden of the bound W2) over the rows routed to it, added into out.
override WG: u32 = 64u; // workgroup size: 64, or at one token Gpu.spread's (expertWorkgroup)
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let r0 = gid.y * TT;
  let tok0 = runs[2u * p.expert];
  let count = runs[2u * p.expert + 1u];
  let q = (p.hidden + 3u) / 4u;
  if (r0 >= count || c >= select(p.hidden, q, TT == 1u)) { return; }
  if (TT == 1u) {
    let acc = down4(quarterRows(p.row0, c, p.hidden), r0 * p.inter);
    let row = tok0 + r0;
    for (var m = 0u; m < 4u && c + m * q < p.hidden; m++) {
      let o = tok[row] * p.hidden + c + m * q;
      out[o] += weight[row] * acc[m];
    }
    return;
  }
  // Rows past the end repeat the last one and are not written.
  let last = count - 1u;
  let acc = down(p.row0 + c, vec4u(r0, min(r0 + 1u, last), min(r0 + 2u, last), min(r0 + 3u, last)) * p.inter);
  let nr = min(TT, count - r0);
  for (var r = 0u; r < nr; r++) {
    let row = tok0 + r0 + r;
    let o = tok[row] * p.hidden + c;
    out[o] += weight[row] * acc[r];
  }
}

// Every choice of token t at once (decode; the u rows of expertSwiglu's `routed`), written to out[t]
// (TT = 1), or joined to the residual stream. The choices are added in expert order, as one dispatch
// an expert adds them: the same sum, and the join of src/gpu/residual.ts.
@compute @workgroup_size(WG)
fn routed(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  let q = (p.hidden + 3u) / 4u;
  if (c >= q) { return; }
  var sum = vec4f(0.0);
  var lo = 0u; // the next choice is the smallest expert ≥ lo
  for (var m = 0u; m < p.k; m++) {
    var e = p.experts;
    var j = 0u;
    for (var f = 0u; f < p.k; f++) {
      let g = idx[t * p.k + f];
      if (g >= lo && g < e) {
        e = g;
        j = t * p.k + f;
      }
    }
    e = min(e, p.experts - 1u); // in bounds whatever idx holds
    sum += weight[j] * down4(quarterRows(e * p.hidden, c, p.hidden), j * p.inter);
    lo = e + 1u;
  }
  for (var m = 0u; m < 4u && c + m * q < p.hidden; m++) {
    let o = t * p.hidden + c + m * q;
    if (RESIDUAL == 1u) {
      out[o] = p.alpha * res[o] + p.beta * sum[m];
    } else {
      out[o] = sum[m];
    }
  }
}
