/** Conversions between f32 and the 16-bit weight formats (round to nearest even), for writers and tests. */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toBf16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if (Number.isNaN(x)) return 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBf16Bits(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

export function toF16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function fromF16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export type StoredDType = 'F32' | 'F16' | 'BF16';

/** Raw little-endian bytes of `values` in a stored format. */
export function encode(values: ArrayLike<number>, dtype: StoredDType): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(Float32Array.from(values).buffer);
  const bits = new Uint16Array(values.length);
  const conv = dtype === 'F16' ? toF16Bits : toBf16Bits;
  for (let i = 0; i < values.length; i++) bits[i] = conv(values[i]);
  return new Uint8Array(bits.buffer);
}

/** Values of raw little-endian bytes in a stored format, widened to f32. */
export function decode(bytes: Uint8Array, dtype: StoredDType): Float32Array {
  const copy = bytes.slice(); // offsets in a file need not be aligned
  if (dtype === 'F32') return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  const bits = new Uint16Array(copy.buffer, 0, copy.byteLength / 2);
  const conv = dtype === 'F16' ? fromF16Bits : fromBf16Bits;
  return Float32Array.from(bits, conv);
}
