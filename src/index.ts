/** lightmoe: a WebGPU runtime for MiniMax-M1-class models (hybrid lightning attention + MoE). */
export { Model, type ModelOptions, type LogitsWanted } from './engine/model';
export { greedy } from './engine/generate';
export type { LoadProgress } from './engine/weights';
export { requestGpuDevice, NoAdapterError } from './gpu/device';
export { fetchSource, memorySource, type ModelSource, type RandomAccessFile } from './model/source';
export { ConfigError, type ModelConfig } from './model/config';
export { CheckpointError } from './model/safetensors';
export { makeDefaultModel } from './model/defaultModel';
