/** Finds an adapter and opens a device with the largest buffer limits the adapter allows. */

/** No WebGPU device can be had here; the message says what to do about it. */
export class NoAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoAdapterError';
  }
}

const WHERE_WEBGPU_IS =
  'WebGPU is in Chrome and Edge 113+ (on Linux behind --enable-unsafe-webgpu), Safari 26+ and Firefox 141+ on Windows; in Node use lightmoe/node (Dawn)';

export async function requestGpuDevice(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<GPUDevice> {
  // Browsers hide navigator.gpu (and crypto.subtle, which the model store needs) outside secure contexts.
  if (globalThis.isSecureContext === false) {
    throw new NoAdapterError(`WebGPU needs a secure context, and ${globalThis.location?.origin ?? 'this page'} is not one: serve the page over https:// or open it from http://localhost.`);
  }
  if (!gpu) throw new NoAdapterError(`WebGPU is not available here (no navigator.gpu). ${WHERE_WEBGPU_IS}.`);
  // Software adapters (SwiftShader) report isFallbackAdapter: they are still wanted.
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new NoAdapterError(`No WebGPU adapter was found: the browser has WebGPU but offers no adapter (blocklisted GPU, or disabled in its settings). ${WHERE_WEBGPU_IS}.`);
  const want: (keyof GPUSupportedLimits)[] = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const k of want) requiredLimits[k] = adapter.limits[k] as number;
  // shader-f16 marks hardware with fast halves: the kernel choices read it from the device (gpu.ts).
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('shader-f16') ? ['shader-f16'] : [];
  return adapter.requestDevice({ requiredLimits, requiredFeatures });
}
