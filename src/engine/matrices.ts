/**
 * A checkpoint's matrices as GPU images, whether it stores them as floats (tiled, and quantized on the
 * way when asked) or pre-quantized by lightmoe quantize (tiled as they are).
 */
import { readQuantizedRows, type Checkpoint } from '../model/checkpoint';
import { quantRow, type QuantFormat } from '../model/quantize';
import type { Gpu } from '../gpu/gpu';
import { uploadMatrix, WEIGHT_BYTES, type GpuTensor, type StoredWeightDType, type WeightDType } from '../gpu/tensor';
import { imageSlice, quantizedSlice, type ImageSlice } from '../gpu/weightImage';

export interface StoredMatrix {
  /** The format on the GPU. */
  format: WeightDType;
  shape: [rows: number, k: number];
  /** Bytes the checkpoint holds for it, and for one row. */
  bytes: number;
  rowBytes: number;
  /** The image of rows r0 .. r0 + n. */
  slice(r0: number, n: number, tileRows: number): Promise<ImageSlice>;
}

/** Matrix `name` (a `.weight` of expectedTensors) of `ckpt`; float matrices are quantized to `quant` if given. */
export function storedMatrix(ckpt: Checkpoint, name: string, quant?: QuantFormat): StoredMatrix {
  const q = ckpt.quantized.get(name);
  if (q) {
    const R = quantRow(q.format, q.shape[1]);
    return {
      format: q.format,
      shape: q.shape,
      bytes: q.data.byteLength + q.scales.byteLength,
      rowBytes: (R.words + R.blocks) * 4,
      slice: async (r0, n, T) => quantizedSlice(await readQuantizedRows(ckpt, q, r0, n), q.format, n, q.shape[1], T),
    };
  }
  const info = ckpt.tensors.get(name);
  if (!info || info.shape.length !== 2) throw new Error(`${ckpt.name}: no matrix ${name}`); // checkTensors has named it
  const dtype = info.dtype.toLowerCase() as StoredWeightDType;
  const [rows, k] = info.shape;
  const rawRow = k * WEIGHT_BYTES[dtype];
  return {
    format: quant ?? dtype,
    shape: [rows, k],
    bytes: info.byteLength,
    rowBytes: rawRow,
    slice: async (r0, n, T) => imageSlice(await ckpt.read(name, r0 * rawRow, n * rawRow), dtype, n, k, quant, name, T),
  };
}

/** Uploads matrix `name` of `ckpt` (see storedMatrix). */
export function uploadStoredMatrix(gpu: Gpu, ckpt: Checkpoint, name: string, quant?: QuantFormat): Promise<GpuTensor> {
  const m = storedMatrix(ckpt, name, quant);
  return uploadMatrix(gpu, name, m.format, m.shape, m.rowBytes, (r0, n) => m.slice(r0, n, gpu.choices.tileRows));
}
