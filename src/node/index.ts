/**
 * lightmoe/node: the engine in Node — Dawn's WebGPU, model folders on disk. Its createEngine takes a
 * folder path as `model` and runs in the calling thread on Dawn unless told otherwise.
 */
import { createEngine as createBrowserEngine, type Engine, type EngineOptions } from '../client/engine';
import { nodeGpuDevice } from './gpu';
import { nodeSource } from './source';

export { nodeGpuDevice, nodeSource };
export * from '../index';

export function createEngine(opts: EngineOptions): Promise<Engine> {
  const model = typeof opts.model === 'string' && !/^https?:\/\//.test(opts.model) ? nodeSource(opts.model) : opts.model;
  return createBrowserEngine({ device: nodeGpuDevice, worker: false, ...opts, model });
}
