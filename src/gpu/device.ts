/** Finds an adapter and opens a device with the largest buffer limits the adapter allows. */
export class NoAdapterError extends Error {}

export async function requestGpuDevice(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<GPUDevice> {
  if (!gpu) throw new NoAdapterError('WebGPU is not available here (no navigator.gpu).');
  // Software adapters (SwiftShader) report isFallbackAdapter: they are still wanted.
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new NoAdapterError('No WebGPU adapter was found.');
  const want: (keyof GPUSupportedLimits)[] = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const k of want) requiredLimits[k] = adapter.limits[k] as number;
  return adapter.requestDevice({ requiredLimits });
}
