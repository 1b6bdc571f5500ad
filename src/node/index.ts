/** lightmoe/node: what the engine needs in Node — a GPU device through Dawn, and model folders on disk. */
export { nodeGpuDevice } from './gpu';
export { nodeSource } from './source';
