/** Builds the bytes of a shader's `Params` uniform: a struct of 4-byte scalars in declaration order. */
export class Params {
  private readonly view: DataView;
  private n = 0;
  constructor(readonly bytes = new ArrayBuffer(256)) {
    this.view = new DataView(bytes);
  }
  u32(v: number): this {
    this.view.setUint32(4 * this.n++, v >>> 0, true);
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(4 * this.n++, v, true);
    return this;
  }
  /** Size rounded up to 16 bytes, as uniform structs are. */
  get size(): number {
    return Math.max(16, Math.ceil((4 * this.n) / 16) * 16);
  }
}
