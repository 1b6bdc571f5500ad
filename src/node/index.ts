/**
 * lightmoe/node: the engine in Node — Dawn's WebGPU, model folders on disk. Its createEngine takes a
 * folder path as `model` and runs in the calling thread on Dawn unless told otherwise.
 */
import { WebSocket as WsWebSocket } from 'ws';
import { createEngine as createBrowserEngine, type Engine, type EngineOptions } from '../client/engine';
import type { WebSocketClass } from '../shard/remoteExecutor';
import type { OpenAIEngine, OpenAIEngineOptions } from '../client/openaiBackend';
import { nodeGpuDevice } from './gpu';
import { nodeSource } from './source';

export { nodeGpuDevice, nodeSource };
export { startShardServer, type ShardServer, type ShardServerOptions } from './shardServer';
export { startOpenAIServer, type OpenAIServer, type OpenAIServerOptions } from './openaiServer';
export * from '../index';

export function createEngine(opts: OpenAIEngineOptions): Promise<OpenAIEngine>;
export function createEngine(opts: EngineOptions): Promise<Engine>;
export function createEngine(opts: EngineOptions | OpenAIEngineOptions): Promise<Engine | OpenAIEngine>;
export function createEngine(opts: EngineOptions | OpenAIEngineOptions): Promise<Engine | OpenAIEngine> {
  if (opts.backend === 'openai') return createBrowserEngine(opts);
  const model = typeof opts.model === 'string' && !/^https?:\/\//.test(opts.model) ? nodeSource(opts.model) : opts.model;
  return createBrowserEngine({ device: nodeGpuDevice, webSocket: WsWebSocket as unknown as WebSocketClass, worker: false, ...opts, model });
}
