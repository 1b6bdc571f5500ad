/** A GPUDevice for Node through Dawn (the `webgpu` npm package). */
import { existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { NoAdapterError, requestGpuDevice } from '../gpu/device';
import { host } from '../gpu/gpu';

/** Chromium's software Vulkan driver; Debian's chromium package puts it here. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const HOW_TO =
  'On a machine without a GPU: install libvulkan1 and chromium (apt-get install -y libvulkan1 chromium) ' +
  `and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD} (SwiftShader, a software Vulkan driver).`;

type Dawn = { create(options: string[]): GPU; globals: object };

/**
 * Every Dawn instance made, kept for the life of the process. dawn.node does not keep the instance
 * alive from its adapters and devices: once the GPU object is collected, its pending-event polling
 * touches freed memory (seen as segfaults and "futex facility returned an unexpected error code").
 */
const instances: GPU[] = [];

function instance(dawn: Dawn): GPU {
  const gpu = dawn.create([]);
  instances.push(gpu);
  return gpu;
}

export async function nodeGpuDevice(): Promise<GPUDevice> {
  let dawn: Dawn;
  try {
    // Imported lazily so that bundles for the browser never pull in the native addon.
    dawn = (await import('webgpu')) as Dawn;
  } catch (e) {
    throw new NoAdapterError(`Cannot load the \`webgpu\` package (Dawn for Node): ${(e as Error).message}. Install it with: npm i webgpu@0.6.2`);
  }
  Object.assign(globalThis, dawn.globals);
  host.threads = availableParallelism();

  // libwayland, which SwiftShader loads, prints an error line when XDG_RUNTIME_DIR is unset.
  // No window is ever drawn here, so any value silences it.
  process.env.XDG_RUNTIME_DIR ??= tmpdir();

  const pinnedBy = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES'].find((v) => process.env[v] !== undefined);
  try {
    return await requestGpuDevice(instance(dawn));
  } catch (e) {
    if (!(e instanceof NoAdapterError)) throw e;
    if (pinnedBy) {
      const value = process.env[pinnedBy]!;
      const missing = value.split(':').filter((f) => f && !existsSync(f));
      const note = missing.length ? ` (${missing.join(', ')} does not exist)` : '';
      throw new NoAdapterError(`No WebGPU adapter was found with ${pinnedBy}=${value}${note}. ${HOW_TO}`);
    }
  }
  // The installed drivers gave nothing (e.g. Mesa 22 lavapipe, which Dawn rejects). Fall back to
  // SwiftShader only now, so that a real GPU wins wherever there is one. The Vulkan loader reads
  // the variable when each instance is created, so a second Dawn instance sees it.
  if (existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    try {
      return await requestGpuDevice(instance(dawn));
    } catch (e) {
      if (!(e instanceof NoAdapterError)) throw e;
    }
  }
  throw new NoAdapterError(`No WebGPU adapter was found. ${HOW_TO}`);
}
