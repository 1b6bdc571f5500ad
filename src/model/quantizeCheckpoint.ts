/**
 * A checkpoint rewritten with its large matrices quantized (`lightmoe quantize`): the tensors isQuantized
 * names become X.qweight + X.scales (src/model/weights.ts has the naming), every other tensor is
 * copied as stored, and config.json gains a quantization_config. The output is written through a sink
 * (files on disk in Node, memory in tests), shard by shard, a few MiB at a time, so a model far larger
 * than memory can be quantized.
 */
import { QUANT_METHOD } from './config';
import type { Checkpoint } from './checkpoint';
import { decode, type StoredDType } from './dtype';
import { isQuantized, QUANT_BLOCK, quantize, type QuantFormat } from './quantize';
import { DTYPE_BYTES, INDEX_FILE, SINGLE_FILE, type DType } from './safetensors';
import { quantizedTensorShapes, qweightName, scalesName } from './weights';

export interface CheckpointSink {
  /** Writes `bytes` at `offset` of `file` (created on its first write). */
  write(file: string, offset: number, bytes: Uint8Array): Promise<void>;
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: number;
}

/** Output tensors that come from one input tensor: a copy, or a quantized matrix's data and scales. */
type Group = { from: string; quantize: boolean; entries: Entry[] };

const CHUNK = 16 << 20;

export interface QuantizeResult {
  /** Files written besides config.json: the shards, and the index when there are several. */
  files: string[];
  /** config.json with quantization_config added. */
  config: Record<string, unknown>;
  quantized: number;
  bytesIn: number;
  bytesOut: number;
}

const size = (e: { dtype: DType; shape: number[] }) => e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];

/**
 * Quantizes `ckpt` (whose config.json is `configJson`) to `format` into `sink`. Shards hold at most
 * `shardBytes` of tensor data each (a tensor, and a matrix's data and scales, never split).
 */
export async function quantizeCheckpoint(
  ckpt: Checkpoint,
  configJson: Record<string, unknown>,
  format: QuantFormat,
  sink: CheckpointSink,
  opts: { shardBytes?: number; onTensor?: (name: string, done: number, total: number) => void } = {},
): Promise<QuantizeResult> {
  if (ckpt.config.quantization) throw new Error(`${ckpt.name} is already quantized (${ckpt.config.quantization}): quantize the original checkpoint`);
  const groups: Group[] = [...ckpt.tensors.values()]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((t) => {
      if (!(isQuantized(t.name) && t.shape.length === 2)) return { from: t.name, quantize: false, entries: [{ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength }] };
      const want = quantizedTensorShapes(format, t.shape[0], t.shape[1]);
      return {
        from: t.name,
        quantize: true,
        entries: [
          { name: qweightName(t.name), ...want.data, bytes: size(want.data) },
          { name: scalesName(t.name), ...want.scales, bytes: size(want.scales) },
        ],
      };
    });

  const limit = opts.shardBytes ?? 2 ** 31;
  const shards: Group[][] = [[]];
  let used = 0;
  for (const g of groups) {
    const bytes = g.entries.reduce((a, e) => a + e.bytes, 0);
    if (used > 0 && used + bytes > limit) {
      shards.push([]);
      used = 0;
    }
    shards[shards.length - 1].push(g);
    used += bytes;
  }
  const names = shards.length === 1 ? [SINGLE_FILE] : shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  let bytesOut = 0;
  let tensorBytes = 0;
  let done = 0;
  for (const [s, shard] of shards.entries()) {
    // Larger elements first, so every tensor is aligned to its element size.
    const entries = shard.flatMap((g) => g.entries).sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype]);
    const header: Record<string, unknown> = { __metadata__: { format: 'pt', quantized_by: `${QUANT_METHOD} ${format}` } };
    const offsets = new Map<string, number>();
    let off = 0;
    for (const e of entries) {
      header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes] };
      offsets.set(e.name, off);
      off += e.bytes;
      weightMap[e.name] = names[s];
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
    const head = new TextEncoder().encode(json);
    const prefix = new Uint8Array(8 + head.length);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(head.length), true);
    prefix.set(head, 8);
    await sink.write(names[s], 0, prefix);
    bytesOut += prefix.length + off;
    tensorBytes += off;
    const at = (name: string) => prefix.length + offsets.get(name)!;
    for (const g of shard) {
      const t = ckpt.tensors.get(g.from)!;
      if (!g.quantize) {
        for (let p = 0; p < t.byteLength; p += CHUNK) await sink.write(names[s], at(g.from) + p, await ckpt.read(g.from, p, Math.min(CHUNK, t.byteLength - p)));
      } else {
        const [rows, k] = t.shape;
        const rawRow = k * DTYPE_BYTES[t.dtype];
        const [data, scales] = g.entries;
        const dataRow = data.bytes / rows;
        const scaleRow = scales.bytes / rows;
        const batch = Math.max(1, Math.floor(CHUNK / rawRow));
        for (let r = 0; r < rows; r += batch) {
          const n = Math.min(batch, rows - r);
          const q = quantize(decode(await ckpt.read(g.from, r * rawRow, n * rawRow), t.dtype as StoredDType), n, k, format, g.from);
          await sink.write(names[s], at(data.name) + r * dataRow, new Uint8Array(q.data.buffer, q.data.byteOffset, q.data.byteLength));
          await sink.write(names[s], at(scales.name) + r * scaleRow, new Uint8Array(q.scales.buffer, q.scales.byteOffset, q.scales.byteLength));
        }
      }
      opts.onTensor?.(g.from, ++done, groups.length);
    }
  }
  if (names.length > 1) {
    const index = new TextEncoder().encode(JSON.stringify({ metadata: { total_size: tensorBytes }, weight_map: weightMap }, null, 2) + '\n');
    await sink.write(INDEX_FILE, 0, index);
  }
  const config = { ...configJson, quantization_config: { quant_method: QUANT_METHOD, bits: format === 'int8' ? 8 : 4, block_size: QUANT_BLOCK[format], symmetric: format === 'int8' } };
  return { files: names.length > 1 ? [...names, INDEX_FILE] : names, config, quantized: groups.filter((g) => g.quantize).length, bytesIn: [...ckpt.tensors.values()].reduce((a, t) => a + t.byteLength, 0), bytesOut };
}

/** A sink that keeps the files in memory, each grown as writes reach past its end. */
export function memorySink(): CheckpointSink & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    async write(file, offset, bytes) {
      const old = files.get(file) ?? new Uint8Array(0);
      const grown = old.length >= offset + bytes.length ? old : new Uint8Array(offset + bytes.length);
      if (grown !== old) grown.set(old);
      grown.set(bytes, offset);
      files.set(file, grown);
    },
  };
}

/** quantizeCheckpoint into memory: the files of the quantized folder (safetensors and config.json). */
export async function quantizeInMemory(ckpt: Checkpoint, configJson: Record<string, unknown>, format: QuantFormat): Promise<Record<string, Uint8Array | string>> {
  const sink = memorySink();
  const r = await quantizeCheckpoint(ckpt, configJson, format, sink);
  return { ...Object.fromEntries(sink.files), 'config.json': JSON.stringify(r.config) };
}
