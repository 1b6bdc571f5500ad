// y[t, yCol0 + r] = act(x[x0 + t, :] · W[r, :]) for t < n, r < rows: a Linear (y = x·Wᵀ) over one row
// part of W. Three entry points:
//   gemv (one token, decode; CPU adapters): an invocation owns 4 rows, a quarter of the rows apart, so
//     each activation it loads serves 4 rows and no row is computed twice however few there are; no
//     barrier (barriers are very slow on software adapters); with NORM = 1 the RMSNorm before it is
//     folded in (foldedNorm.wgsl: x is the raw stream, h gets the normed row);
//   gemvSliced (one token; GPUs): a workgroup owns 16 neighbouring rows and splits k 16 ways, so a
//     large matrix keeps enough invocations in flight, and the 16 invocations of a slice read
//     neighbouring chunks (tiles of 64 rows); the slices are summed after one barrier;
//   gemm (prefill): an invocation owns one row and 4 tokens, so each weight it loads serves 4 tokens.
#include "weights.wgsl"
#include "chunkDot.wgsl"

struct Params { n: u32, k: u32, rows: u32, yStride: u32, yCol0: u32, x0: u32, alpha: f32, beta: f32, eps: f32 }
override ACT: u32 = 0u; // 0 = identity, 1 = SiLU
// 1: y = alpha·r + beta·(x·Wᵀ), the residual join fused into the projection before it (r laid out as y)
override RESIDUAL: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // [x0 + n, k] f32
@group(0) @binding(2) var<storage, read> w: array<vec4u>;     // [rows, k] tiled WDTYPE
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // [n, yStride] f32
@group(0) @binding(4) var<storage, read> ws: array<u32>;      // tiled block scales (int8, int4)
@group(0) @binding(5) var<storage, read> res: array<f32>;     // [n, yStride] f32: r of the residual join
@group(0) @binding(6) var<storage, read> normW: array<f32>;   // NORM: [k] f32, the folded norm's weight
@group(0) @binding(7) var<storage, read_write> h: array<f32>; // NORM: [x0 + n, k] f32, the normed rows
#include "foldedNorm.wgsl"

fn rowOf(r: u32) -> Row {
  return matrixRow(r, p.k, p.rows);
}
fn chunkAt(row: Row, j: u32) -> vec4u {
  return w[row.w0 + j * row.stride];
}
fn scalesAt(row: Row, j: u32) -> vec4f {
  if (WDTYPE < 3u) { return vec4f(0.0); }
  let b = chunkBlocks(j, blocksOf(p.k)) * row.stride + row.s0;
  if (WDTYPE == 3u) { return vec4f(unpack2x16float(ws[b.x]), 0.0, 0.0); }
  return chunkScales(ws[b.x], ws[b.y]);
}

fn activate(v: f32) -> f32 {
  return select(v, v / (1.0 + exp(-v)), ACT == 1u);
}

// The value stored at y[i]: the activation, or the residual join.
fn output(i: u32, v: f32) -> f32 {
  if (RESIDUAL == 1u) { return p.alpha * res[i] + p.beta * v; }
  return activate(v);
}

override WG: u32 = 64u; // gemv's workgroup size (Gpu.spread)
@compute @workgroup_size(WG)
fn gemv(@builtin(global_invocation_id) gid: vec3u) {
  // Rows r + m·q, q = ⌈rows / 4⌉: neighbouring invocations on neighbouring rows (one tile on a GPU).
  let q = (p.rows + 3u) / 4u;
  let r = gid.x;
  if (r >= q) { return; }
  let rs = quarterRows(0u, r, p.rows);
  let r0 = rowOf(rs.x);
  let r1 = rowOf(rs.y);
  let r2 = rowOf(rs.z);
  let r3 = rowOf(rs.w);
  let xb = p.x0 * p.k;
  normRow(xb, p.k, p.eps, r, q);
  let full = p.k / CHUNK;
  var a = vec4f(0.0);
  for (var j = 0u; j < full; j++) {
    let xs = chunkX(xb + j * CHUNK);
    a += vec4f(chunkDot(chunkAt(r0, j), scalesAt(r0, j), xs), chunkDot(chunkAt(r1, j), scalesAt(r1, j), xs),
               chunkDot(chunkAt(r2, j), scalesAt(r2, j), xs), chunkDot(chunkAt(r3, j), scalesAt(r3, j), xs));
  }
  let rest = p.k - full * CHUNK;
  if (rest > 0u) {
    let i = xb + full * CHUNK;
    a += vec4f(tailDot(chunkAt(r0, full), scalesAt(r0, full), i, rest), tailDot(chunkAt(r1, full), scalesAt(r1, full), i, rest),
               tailDot(chunkAt(r2, full), scalesAt(r2, full), i, rest), tailDot(chunkAt(r3, full), scalesAt(r3, full), i, rest));
  }
  let yb = p.yCol0 + r;
  for (var m = 0u; m < 4u && r + q * m < p.rows; m++) { y[yb + q * m] = output(yb + q * m, a[m]); }
}

const SLICE_ROWS = 16u;
const SLICES = 16u;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn gemvSliced(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let l = li % SLICE_ROWS;
  let s = li / SLICE_ROWS;
  let r = wg.x * SLICE_ROWS + l;
  // Rows past the end read the last one and are not written (every invocation reaches the barrier).
  let row = rowOf(min(r, p.rows - 1u));
  let xb = p.x0 * p.k;
  let full = p.k / CHUNK;
  var acc = 0.0;
  for (var j = s; j < full; j += SLICES) { acc += chunkDot(chunkAt(row, j), scalesAt(row, j), chunkX(xb + j * CHUNK)); }
  let rest = p.k - full * CHUNK;
  if (s == 0u && rest > 0u) { acc += tailDot(chunkAt(row, full), scalesAt(row, full), xb + full * CHUNK, rest); }
  partial[li] = acc;
  workgroupBarrier();
  if (s == 0u && r < p.rows) {
    var sum = 0.0;
    for (var i = 0u; i < SLICES; i++) { sum += partial[i * SLICE_ROWS + l]; }
    y[p.yCol0 + r] = output(p.yCol0 + r, sum);
  }
}

@compute @workgroup_size(64)
fn gemm(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  let t0 = gid.y * 4u;
  if (r >= p.rows || t0 >= p.n) { return; }
  // Tokens past the end read the last row and are not written.
  let last = p.n - 1u;
  let xb = vec4u(p.x0 + t0, p.x0 + min(t0 + 1u, last), p.x0 + min(t0 + 2u, last), p.x0 + min(t0 + 3u, last)) * p.k;
  let row = rowOf(r);
  let full = p.k / CHUNK;
  var a = vec4f(0.0);
  for (var j = 0u; j < full; j++) {
    let v = chunkAt(row, j);
    let sc = scalesAt(row, j);
    let c = j * CHUNK;
    a += vec4f(chunkDot(v, sc, chunkX(xb.x + c)), chunkDot(v, sc, chunkX(xb.y + c)), chunkDot(v, sc, chunkX(xb.z + c)), chunkDot(v, sc, chunkX(xb.w + c)));
  }
  let rest = p.k - full * CHUNK;
  if (rest > 0u) {
    let v = chunkAt(row, full);
    let sc = scalesAt(row, full);
    let c = full * CHUNK;
    a += vec4f(tailDot(v, sc, xb.x + c, rest), tailDot(v, sc, xb.y + c, rest), tailDot(v, sc, xb.z + c, rest), tailDot(v, sc, xb.w + c, rest));
  }
  let nt = min(4u, p.n - t0);
  for (var t = 0u; t < nt; t++) {
    let i = (t0 + t) * p.yStride + p.yCol0 + r;
    y[i] = output(i, a[t]);
  }
}
