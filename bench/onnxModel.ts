/**
 * Just enough ONNX (protobuf) to hand onnxruntime-web one MatMul or MatMulNBits node with its weight
 * as an initializer: the peer kernels of bench:kernels. Field numbers from onnx.proto.
 */
type Field = [field: number, value: number | string | Uint8Array | Field[]];

function varint(n: number, out: number[]): void {
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
}

/** A message: numbers as varints, strings and bytes length-delimited, nested messages as bytes. */
function message(fields: Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [field, value] of fields) {
    const head: number[] = [];
    if (typeof value === 'number') {
      varint(field << 3, head);
      varint(value, head);
      parts.push(Uint8Array.from(head));
      continue;
    }
    const body = typeof value === 'string' ? new TextEncoder().encode(value) : value instanceof Uint8Array ? value : message(value);
    varint((field << 3) | 2, head);
    varint(body.length, head);
    parts.push(Uint8Array.from(head), body);
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

const FLOAT = 1;
const UINT8 = 2;

const tensor = (name: string, type: number, dims: number[], raw: Uint8Array): Field[] => [...dims.map((d): Field => [1, d]), [2, type], [8, name], [9, raw]];
const valueInfo = (name: string, dims: number[]): Field[] => [
  [1, name],
  [2, [[1, [[1, FLOAT], [2, dims.map((d): Field => [1, [[1, d]]])]]]]],
];
const intAttr = (name: string, v: number): Field => [5, [[1, name], [3, v], [20, 2]]];

function model(node: Field[], initializers: Field[][], k: number, n: number): Uint8Array {
  const graph: Field[] = [[1, node], [2, 'peer'], ...initializers.map((t): Field => [5, t]), [11, valueInfo('x', [1, k])], [12, valueInfo('y', [1, n])]];
  return message([
    [1, 8], // ir_version
    [8, [[1, ''], [2, 17]]],
    [8, [[1, 'com.microsoft'], [2, 1]]],
    [7, graph],
  ]);
}

/** y = x·W for x [1, k] and W [k, n] f32 (ONNX MatMul's B). */
export function matMulModel(k: number, n: number, w: Float32Array): Uint8Array {
  return model([[1, 'x'], [1, 'w'], [2, 'y'], [4, 'MatMul']], [tensor('w', FLOAT, [k, n], new Uint8Array(w.buffer, w.byteOffset, w.byteLength))], k, n);
}

/**
 * y = x·Wᵀ with W [n, k] in 4 bits (com.microsoft MatMulNBits): B uint8 [n, k/block, block/2], scales f32
 * [n·k/block], the default zero point 8.
 */
export function matMulNBitsModel(k: number, n: number, block: number, b: Uint8Array, scales: Float32Array): Uint8Array {
  const blocks = Math.ceil(k / block);
  return model(
    [[1, 'x'], [1, 'b'], [1, 'scales'], [2, 'y'], [4, 'MatMulNBits'], [7, 'com.microsoft'], intAttr('K', k), intAttr('N', n), intAttr('bits', 4), intAttr('block_size', block)],
    [tensor('b', UINT8, [n, blocks, block / 2], b), tensor('scales', FLOAT, [n * blocks], new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength))],
    k,
    n,
  );
}
