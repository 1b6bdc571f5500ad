/** A validated checkpoint: its config, the index of its tensors, and reads of tensor bytes. */
import { ConfigError, parseConfig, type ModelConfig } from './config';
import { indexCheckpoint, type TensorInfo } from './safetensors';
import { joinPath, readJson, type ModelSource, type RandomAccessFile } from './source';
import type { QuantBlocks } from './quantize';
import { quantRow } from './quantize';
import { checkTensors, type QuantizedTensor } from './weights';

export interface Checkpoint {
  readonly name: string;
  readonly config: ModelConfig;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The matrices stored quantized (a checkpoint written by lightmoe quantize), by their `.weight` name. */
  readonly quantized: ReadonlyMap<string, QuantizedTensor>;
  /** Raw stored bytes of a tensor, from byte `offset` of its data. */
  read(name: string, offset: number, length: number): Promise<Uint8Array>;
}

/** Reads config.json, indexes and checks the safetensors of `source`; nothing large is read yet. */
export async function openCheckpoint(source: ModelSource): Promise<Checkpoint> {
  const json = await readJson(source, 'config.json');
  if (json === null) throw new ConfigError(joinPath(source.name, 'config.json'), '', `not found: is ${source.name} a model folder?`);
  const config = parseConfig(json, joinPath(source.name, 'config.json'));
  const tensors = await indexCheckpoint(source);
  const quantized = checkTensors(config, tensors);
  const files = new Map<string, Promise<RandomAccessFile>>();
  const open = (path: string) => {
    let f = files.get(path);
    if (!f) {
      f = source.open(path).then((file) => {
        if (!file) throw new Error(`${source.name}: ${path} disappeared while loading`);
        return file;
      });
      files.set(path, f);
    }
    return f;
  };
  return {
    name: source.name,
    config,
    tensors,
    quantized,
    async read(name, offset, length) {
      const t = tensors.get(name);
      if (!t) throw new Error(`${source.name}: no tensor ${name}`);
      if (offset < 0 || offset + length > t.byteLength) throw new Error(`${source.name}: ${name}: read of ${length} bytes at ${offset} is outside its ${t.byteLength} bytes`);
      return (await open(t.file)).read(t.offset + offset, length);
    },
  };
}

/** Names of the three matrices of expert e of layer i. */
export function expertTensorNames(layer: number, e: number): [w1: string, w3: string, w2: string] {
  const p = `model.layers.${layer}.block_sparse_moe.experts.${e}.`;
  return [p + 'w1.weight', p + 'w3.weight', p + 'w2.weight'];
}

/**
 * Rows r0 .. r0 + n of a matrix stored quantized, in quantize.ts's row-major form. An int8 value of
 * -128 is refused (quantize writes -127 .. 127, and the kernels' byte unpacks clamp -128 to -127).
 */
export async function readQuantizedRows(ckpt: Checkpoint, q: QuantizedTensor, r0: number, n: number): Promise<QuantBlocks> {
  const R = quantRow(q.format, q.shape[1]);
  const words = async (name: string, perRow: number) => {
    const bytes = await ckpt.read(name, r0 * perRow * 4, n * perRow * 4);
    return new Uint32Array((bytes.byteOffset % 4 ? bytes.slice() : bytes).buffer, bytes.byteOffset % 4 ? 0 : bytes.byteOffset, n * perRow);
  };
  const data = await words(q.data.name, R.words);
  if (q.format === 'int8')
    for (let i = 0; i < data.length; i++) {
      // A byte of 0x80 is a zero byte of v = word ^ 0x80808080.
      const v = data[i] ^ 0x80808080;
      if ((v - 0x01010101) & ~v & 0x80808080) {
        const at = [0, 1, 2, 3].find((b) => ((data[i] >>> (8 * b)) & 0xff) === 0x80)!;
        throw new Error(`${ckpt.name}: ${q.data.name}: row ${r0 + Math.floor(i / R.words)}, element ${(i % R.words) * 4 + at} is -128; int8 weights are -127 .. 127`);
      }
    }
  return { data, scales: await words(q.scales.name, R.blocks) };
}
