/**
 * safetensors header parsing and checkpoint indexing (MODEL.md §3.1). Headers come from
 * untrusted files: every length and offset is checked before it is used.
 */
import type { ModelSource, RandomAccessFile } from './source';

/** Floats for weights; I8 and U8 only for the data of pre-quantized matrices (src/model/weights.ts). */
export type DType = 'F32' | 'F16' | 'BF16' | 'I8' | 'U8';

export const DTYPE_BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1 };

/** Valid safetensors dtypes this runtime does not load, so they get "unsupported", not "unknown". */
const OTHER_DTYPES = new Set(['F64', 'I64', 'I32', 'I16', 'U64', 'U32', 'U16', 'BOOL', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Path of the file within its ModelSource. */
  file: string;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

export class CheckpointError extends Error {
  readonly file: string;
  readonly tensor?: string;
  constructor(file: string, message: string, tensor?: string) {
    super(message);
    this.name = 'CheckpointError';
    this.file = file;
    this.tensor = tensor;
  }
}

const MAX_HEADER = 100 * 1024 * 1024;
export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Element count; Infinity once it is too large to be exact, which never matches a real byte range. */
function numel(shape: number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return n;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export async function readHeader(file: RandomAccessFile): Promise<TensorInfo[]> {
  const fname = file.name;
  const fail = (msg: string, tensor?: string): never => {
    throw new CheckpointError(fname, tensor === undefined ? `${fname}: ${msg}` : `${fname}: tensor "${tensor}": ${msg}`, tensor);
  };

  if (file.size < 8) fail(`${file.size} bytes is too short for a safetensors header (8-byte length at offset 0)`);
  const head = await file.read(0, 8);
  const dv = new DataView(head.buffer, head.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact for anything below 2^53, and hi > 0 is refused anyway
  if (n === 0) fail('header length at offset 0 is 0');
  if (hi !== 0 || n > MAX_HEADER) fail(`header length ${hi !== 0 ? BigInt(hi) * 2n ** 32n + BigInt(lo) : n} at offset 0 exceeds the 100 MiB limit`);
  if (8 + n > file.size) fail(`header length ${n} at offset 0 runs past the end of the file (${file.size} bytes)`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await file.read(8, n)));
  } catch (e) {
    return fail(`header (bytes 8..${8 + n}) is not valid UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(header)) return fail(`header (bytes 8..${8 + n}) is not a JSON object`);

  const dataStart = 8 + n;
  const dataSize = file.size - dataStart;
  const out: TensorInfo[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!isObject(info)) fail(`entry is not an object: ${show(info)}`, name);
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      const kind = typeof dtype === 'string' && OTHER_DTYPES.has(dtype) ? 'unsupported' : 'unknown';
      fail(`${kind} dtype ${show(dtype)} (supported: F32, F16, BF16; I8, U8 for quantized data)`, name);
    }
    if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`shape must be an array of non-negative integers, got ${show(shape)}`, name);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isIndex) || offs[0] > offs[1]) {
      fail(`data_offsets must be two integers [begin, end] with begin <= end, got ${show(offs)}`, name);
    }
    const [begin, end] = offs as number[];
    if (end > dataSize) {
      fail(`data_offsets [${begin}, ${end}] (bytes ${dataStart + begin}..${dataStart + end}) end beyond the data section (${dataSize} bytes from offset ${dataStart}, file size ${file.size})`, name);
    }
    const needed = numel(shape as number[]) * DTYPE_BYTES[dtype as DType];
    if (needed !== end - begin) {
      fail(`data_offsets [${begin}, ${end}] (offset ${dataStart + begin}) hold ${end - begin} bytes, but shape ${show(shape)} of ${dtype} needs ${needed}`, name);
    }
    out.push({ name, dtype: dtype as DType, shape: shape as number[], file: fname, offset: dataStart + begin, byteLength: end - begin });
  }

  const sorted = [...out].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1];
    const t = sorted[i];
    if (t.offset < p.offset + p.byteLength) {
      fail(`bytes ${t.offset}..${t.offset + t.byteLength} overlap tensor "${p.name}" (bytes ${p.offset}..${p.offset + p.byteLength})`, t.name);
    }
  }
  return out;
}

/**
 * All tensors of a checkpoint: the shards listed by model.safetensors.index.json if the source
 * has one, else model.safetensors.
 */
export async function indexCheckpoint(source: ModelSource): Promise<Map<string, TensorInfo>> {
  const tensors = new Map<string, TensorInfo>();
  const add = (infos: TensorInfo[]) => {
    for (const t of infos) {
      const prev = tensors.get(t.name);
      if (prev) throw new CheckpointError(t.file, `${t.file}: tensor "${t.name}" is also in ${prev.file}`, t.name);
      tensors.set(t.name, t);
    }
  };

  const indexText = await source.readText(INDEX_FILE);
  if (indexText === null) {
    const file = await source.open(SINGLE_FILE);
    if (!file) throw new CheckpointError(SINGLE_FILE, `neither ${INDEX_FILE} nor ${SINGLE_FILE} exists in ${source.name}`);
    add(await readHeader(file));
    return tensors;
  }

  const bad = (msg: string, tensor?: string): never => {
    throw new CheckpointError(INDEX_FILE, `${INDEX_FILE}: ${msg}`, tensor);
  };
  let index: unknown;
  try {
    index = JSON.parse(indexText);
  } catch (e) {
    return bad(`not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const weightMap = isObject(index) ? index.weight_map : undefined;
  if (!isObject(weightMap)) return bad('"weight_map" must be an object of tensor name -> shard file');
  const entries = Object.entries(weightMap);
  for (const [name, shard] of entries) {
    if (typeof shard !== 'string' || shard === '') bad(`tensor "${name}": shard must be a file name, got ${show(shard)}`, name);
    // The shard name is joined onto the source's location: keep it inside.
    if ((shard as string).includes('..') || (shard as string).startsWith('/')) bad(`tensor "${name}": shard file name ${show(shard)} leaves the model folder`, name);
  }

  for (const shard of new Set(entries.map(([, s]) => s as string))) {
    const file = await source.open(shard);
    if (!file) throw new CheckpointError(shard, `${INDEX_FILE} names shard ${shard}, which does not exist in ${source.name}`);
    add(await readHeader(file));
  }
  for (const [name, shard] of entries) {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(shard as string, `${shard}: tensor "${name}" listed in ${INDEX_FILE} is not in that shard`, name);
    if (t.file !== shard) throw new CheckpointError(t.file, `${INDEX_FILE} puts tensor "${name}" in ${shard}, but it is in ${t.file}`, name);
  }
  return tensors;
}
