// Dot products of weight chunks (shaders/weights.wgsl) with an activation row, written out per format:
// software adapters compile loops and dynamically indexed vectors literally, so only a row's last,
// partial chunk (tailDot) loops.
// The including shader defines xAt(i), its f32 activation i (x[i], or a norm's output: foldedNorm.wgsl).

// The activations a chunk multiplies: QUADS quads (f32 1, f16/bf16 2, int8 4, int4 8), columns of a, b;
// for int4 also their sums over each block (sa, sb: the minimum's term), shared by every row.
struct ChunkX { a: mat4x4f, b: mat4x4f, sa: f32, sb: f32 }

fn xQuad(i: u32) -> vec4f {
  return vec4f(xAt(i), xAt(i + 1u), xAt(i + 2u), xAt(i + 3u));
}

// The activations of one whole chunk starting at xAt(i).
fn chunkX(i: u32) -> ChunkX {
  var xs: ChunkX;
  xs.a[0] = xQuad(i);
  if (QUADS >= 2u) { xs.a[1] = xQuad(i + 4u); }
  if (QUADS >= 4u) {
    xs.a[2] = xQuad(i + 8u);
    xs.a[3] = xQuad(i + 12u);
  }
  if (QUADS == 8u) {
    xs.b = mat4x4f(xQuad(i + 16u), xQuad(i + 20u), xQuad(i + 24u), xQuad(i + 28u));
    let one = vec4f(1.0);
    xs.sa = dot(xs.a * one, one);
    xs.sb = dot(xs.b * one, one);
  }
  return xs;
}

fn bf16Quad(a: u32, b: u32) -> vec4f {
  return bitcast<vec4f>(vec4u(a << 16u, a & 0xffff0000u, b << 16u, b & 0xffff0000u));
}
// Bytes to floats, two ways with the same result, measured per adapter (npm run bench:kernels):
// UNPACK_BYTES = 1 uses unpack4x8snorm/unorm, one instruction on SwiftShader, whose integer vector
// operations are slow (2.07 against 1.28 GB/s for int8); 0 builds floats from the bits (2^23 + byte
// is exact in f32), faster on lavapipe (3.35 against 2.19 GB/s) and plain integer work on a GPU.
override UNPACK_BYTES: u32 = 0u;
const MAGIC = 0x4b000000u; // the bits of 2^23: 2^23 + b for a byte b in its low bits

fn bytesOf(w: u32) -> vec4f {
  return bitcast<vec4f>(vec4u(MAGIC | (w & 0xffu), MAGIC | ((w >> 8u) & 0xffu), MAGIC | ((w >> 16u) & 0xffu), MAGIC | (w >> 24u))) - 8388608.0;
}
// Int8 quad q·(scale factor): UNPACK_BYTES: q / 127 (q ≥ -127, so never clamped); else q + 128 - 128.
fn int8Quad(w: u32) -> vec4f {
  if (UNPACK_BYTES == 1u) { return unpack4x8snorm(w); }
  return bytesOf(w ^ 0x80808080u) - 128.0;
}
// Elements 4h .. 4h + 3 of an int4 word (quantize.ts: the low nibbles of its bytes, then the high ones).
fn int4Quad(w: u32, h: u32) -> vec4f {
  let nibbles = (w >> (4u * h)) & 0x0f0f0f0fu;
  if (UNPACK_BYTES == 1u) { return unpack4x8unorm(nibbles); }
  return bytesOf(nibbles);
}
// What the quads above are to be multiplied by to give q.
override INT8_UNIT: f32 = select(1.0, 127.0, UNPACK_BYTES == 1u);
override INT4_UNIT: f32 = select(1.0, 255.0, UNPACK_BYTES == 1u);

// chunk · activations, for a whole chunk (int4: a block is q·s + m, so s·(q·x) + m·Σx).
fn chunkDot(v: vec4u, sc: vec4f, xs: ChunkX) -> f32 {
  if (WDTYPE == 0u) { return dot(bitcast<vec4f>(v), xs.a[0]); }
  if (WDTYPE == 1u) { return dot(vec4f(unpack2x16float(v.x), unpack2x16float(v.y)), xs.a[0]) + dot(vec4f(unpack2x16float(v.z), unpack2x16float(v.w)), xs.a[1]); }
  if (WDTYPE == 2u) { return dot(bf16Quad(v.x, v.y), xs.a[0]) + dot(bf16Quad(v.z, v.w), xs.a[1]); }
  if (WDTYPE == 3u) { return (INT8_UNIT * sc.x) * (dot(int8Quad(v.x), xs.a[0]) + dot(int8Quad(v.y), xs.a[1]) + dot(int8Quad(v.z), xs.a[2]) + dot(int8Quad(v.w), xs.a[3])); }
  let lo = dot(int4Quad(v.x, 0u), xs.a[0]) + dot(int4Quad(v.x, 1u), xs.a[1]) + dot(int4Quad(v.y, 0u), xs.a[2]) + dot(int4Quad(v.y, 1u), xs.a[3]);
  let hi = dot(int4Quad(v.z, 0u), xs.b[0]) + dot(int4Quad(v.z, 1u), xs.b[1]) + dot(int4Quad(v.w, 0u), xs.b[2]) + dot(int4Quad(v.w, 1u), xs.b[3]);
  return (INT4_UNIT * sc.x) * lo + sc.y * xs.sa + (INT4_UNIT * sc.z) * hi + sc.w * xs.sb;
}

// chunk · activations for the first n elements of a chunk (a row's last, partial chunk).
fn tailDot(v: vec4u, sc: vec4f, i: u32, n: u32) -> f32 {
  var s = 0.0;
  for (var e = 0u; e < n; e++) { s += elementOf(v, e, sc) * xAt(i + e); }
  return s;
}
