/**
 * How a checkpoint is cut into IndexedDB records. Experts get records of their own (w1, w3, w2 together,
 * or their quantized data and scales)
 * because the expert cache loads one expert at a time; everything else is packed into dense chunks.
 * The layout depends only on the tensor index, so a resumed download cuts the same records.
 */
import { expertTensorNames } from '../model/checkpoint';
import type { ModelConfig } from '../model/config';
import type { DType, TensorInfo } from '../model/safetensors';
import { qweightName, scalesName } from '../model/weights';

/** IndexedDB values above this fail in some Chromium contexts (TOOLCHAIN.md §6). */
export const RECORD_BYTES = 64 * 2 ** 20;

/** Source bytes that become part of a record, in record order. */
export interface Segment {
  file: string;
  offset: number;
  length: number;
}

export interface RecordPlan {
  kind: 'expert' | 'dense';
  /** For messages: "layer 3 expert 5", "dense 0". */
  label: string;
  size: number;
  segments: Segment[];
}

/** Where a tensor's bytes lie: its byte range [tensorOffset, tensorOffset + length) is at `at` in `record`. */
export interface TensorPart {
  record: number;
  at: number;
  tensorOffset: number;
  length: number;
}

export interface StoredTensor {
  dtype: DType;
  shape: number[];
  byteLength: number;
  /** Where it was in the source, kept so the stored checkpoint reports the same TensorInfo. */
  file: string;
  offset: number;
  parts: TensorPart[];
}

export interface Layout {
  records: RecordPlan[];
  tensors: Record<string, StoredTensor>;
}

export function planRecords(tensors: ReadonlyMap<string, TensorInfo>, config: ModelConfig, maxBytes = RECORD_BYTES): Layout {
  if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new RangeError(`record size must be a positive integer, got ${maxBytes}`);
  const records: RecordPlan[] = [];
  const out: Record<string, StoredTensor> = {};
  let cur: RecordPlan | null = null;

  const open = (kind: RecordPlan['kind'], label: string) => {
    cur = { kind, label, size: 0, segments: [] };
    records.push(cur);
    return cur;
  };
  const stored = (t: TensorInfo): StoredTensor => (out[t.name] = { dtype: t.dtype, shape: t.shape, byteLength: t.byteLength, file: t.file, offset: t.offset, parts: [] });
  /** Appends t[from, from + length) to the current record. */
  const put = (rec: RecordPlan, t: TensorInfo, from: number, length: number) => {
    out[t.name].parts.push({ record: records.length - 1, at: rec.size, tensorOffset: from, length });
    const last = rec.segments[rec.segments.length - 1];
    if (last && last.file === t.file && last.offset + last.length === t.offset + from) last.length += length;
    else rec.segments.push({ file: t.file, offset: t.offset + from, length });
    rec.size += length;
  };
  /** Adds all of t, splitting it only where the record is full. */
  const fill = (t: TensorInfo, next: () => RecordPlan) => {
    for (let from = 0; from < t.byteLength; ) {
      const rec: RecordPlan = cur && cur.size < maxBytes ? cur : next();
      const n = Math.min(maxBytes - rec.size, t.byteLength - from);
      put(rec, t, from, n);
      from += n;
    }
  };

  // Dense tensors first: a model load needs them all, the experts only later.
  const expert = new Set<string>();
  // An expert's matrices, stored as floats or (a pre-quantized checkpoint) as data and scales.
  const expertTensors = (l: number, e: number) => expertTensorNames(l, e).flatMap((n) => [n, qweightName(n), scalesName(n)]);
  for (let l = 0; l < config.numLayers; l++) for (let e = 0; e < config.numExperts; e++) for (const n of expertTensors(l, e)) expert.add(n);
  const fileOrder = [...new Set([...tensors.values()].map((t) => t.file))];
  const dense = [...tensors.values()]
    .filter((t) => !expert.has(t.name))
    .sort((a, b) => fileOrder.indexOf(a.file) - fileOrder.indexOf(b.file) || a.offset - b.offset);
  let dn = 0;
  const nextDense = () => open('dense', `dense ${dn++}`);
  for (const t of dense) {
    stored(t);
    // A new file starts a new chunk, so that streaming a file without Range keeps at most one dense chunk open;
    // a tensor that fits a chunk is not split, so most reads touch one record.
    const c = cur as RecordPlan | null;
    if (c && (c.segments.at(-1)?.file !== t.file || (t.byteLength <= maxBytes && c.size + t.byteLength > maxBytes))) cur = null;
    fill(t, nextDense);
  }

  for (let l = 0; l < config.numLayers; l++)
    for (let e = 0; e < config.numExperts; e++) {
      const infos = expertTensors(l, e).map((n) => tensors.get(n)).filter((t): t is TensorInfo => !!t);
      const size = infos.reduce((s, t) => s + t.byteLength, 0);
      const parts = Math.ceil(size / maxBytes);
      // Experts larger than a record (MiniMax-M1's are ~340 MB in bf16) take several records each.
      let p = 0;
      cur = null;
      const next = () => open('expert', `layer ${l} expert ${e}` + (parts > 1 ? ` part ${++p}/${parts}` : ''));
      for (const t of infos) {
        stored(t);
        fill(t, next);
      }
      cur = null;
    }
  return { records, tensors: out };
}
