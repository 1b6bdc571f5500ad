/** lightmoe: a WebGPU runtime for MiniMax-M1-class models (hybrid lightning attention + mixture of experts). */
export { createEngine, Engine, type EngineOptions, type GenerateOptions, type Generation } from './client/engine';
export type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionUsage } from './client/openai';
export type { LoadProgress, ModelInfo, ModelSpec } from './engine/core';
export type { FinishReason, GenerateChunk, GenerateRequest, GenerateResult, Usage } from './engine/generation';
export type { ChatMessage, ToolDef } from './text/chatTemplate';
export type { ToolCall } from './text/toolCalls';
export type { SamplingOptions } from './text/sampler';
export { Model, type ModelOptions, type LogitsWanted } from './engine/model';
export { requestGpuDevice, NoAdapterError } from './gpu/device';
export { fetchSource, memorySource, type ModelSource, type RandomAccessFile } from './model/source';
export { directorySource, filesSource } from './model/localSource';
export { ConfigError, type ModelConfig } from './model/config';
export { CheckpointError } from './model/safetensors';
export { makeDefaultModel } from './model/defaultModel';
export { deleteModel, downloadModel, listModels, modelSize, ModelNotStoredError, StorageFullError, type StoredModelInfo } from './store/modelStore';
export type { ExpertCacheStats, EvictionPolicy } from './store/expertCache';
