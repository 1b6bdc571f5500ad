/** One f32's bits, to keep Params' words as u32s. */
const bits = new Float32Array(1);
const bitsU32 = new Uint32Array(bits.buffer);

/**
 * The words of a shader's `Params` uniform: a struct of 4-byte scalars in declaration order. A plain
 * array, not an ArrayBuffer: a decode step builds one for each of its dispatches.
 */
export class Params {
  readonly words: number[] = [];
  u32(v: number): this {
    this.words.push(v >>> 0);
    return this;
  }
  f32(v: number): this {
    bits[0] = v;
    this.words.push(bitsU32[0]);
    return this;
  }
  /** Size in bytes rounded up to 16, as uniform structs are. */
  get size(): number {
    return Math.max(16, Math.ceil((4 * this.words.length) / 16) * 16);
  }
}
