import { Params } from './params';
import { shaderSource } from './shaders';

const SLOT = 256; // minUniformBufferOffsetAlignment
const SLOTS = 512; // a greedy chain of 8 stories260k steps (28 dispatches each, 39 on a GPU) in one submit

// GPUBufferUsage / GPUMapMode values from the WebGPU spec, so this module loads before Node's globals exist.
const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, INDIRECT: 0x100 } as const;
const MAP_READ_MODE = 0x1;
export const STORAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
/** Storage that also holds indirect dispatch sizes written by a kernel. */
export const INDIRECT_STORAGE = STORAGE | USAGE.INDIRECT;

export interface GpuOptions {
  /** Largest row part of a weight; below the binding limit only to exercise tensor splitting in tests. */
  maxTensorPartBytes?: number;
  /** Kernel variants; by default chosen from the adapter (kernelChoices). */
  choices?: Partial<KernelChoices>;
}

/** The variants of the kernels that differ per adapter, each correct on every adapter. */
export interface KernelChoices {
  /** Rows a weight tile (src/gpu/weightImage.ts). */
  tileRows: 1 | 64;
  /** How int8/int4 bytes are widened (shaders/chunkDot.wgsl): 1 = unpack builtins, 0 = integer operations. */
  unpackBytes: 0 | 1;
  /** Most invocations in a workgroup that synchronises with barriers (argmax, moePlan, the norms' row sums where norms are not folded). */
  barrierWorkgroup: number;
  /** Invocations attention aims to keep in flight, splitting the keys when there are few queries (decode). */
  attentionThreads: number;
  /** Invocations the adapter runs in lockstep (its subgroup size; SwiftShader 4, a GPU 32 or more). */
  lanes: number;
  /** Threads a CPU adapter runs workgroups on, each workgroup on one of them (0 on a GPU): see Gpu.spread. */
  threads: number;
  /** One-token matmul (shaders/matmul.wgsl): 4 rows an invocation, or 16 rows a workgroup with k split 16 ways. */
  gemv: 'rows' | 'sliced';
  /** How the KV cache stores keys and values (src/gpu/attention.ts): f32, or f16 halves packed two a word. */
  kvFormat: KvFormat;
  /** A decoded token's RMSNorm runs inside the kernel that first reads it (src/gpu/rmsnorm.ts foldsNorm), not in a dispatch of its own. */
  foldNorm: boolean;
}

/** The host's CPU threads, which a CPU adapter runs workgroups on; Node's host sets it (Node 20 has no navigator). */
export const host = { threads: globalThis.navigator?.hardwareConcurrency ?? 4 };

/** A KV cache's element format: f16 halves the bytes a token takes and attention reads (the math stays f32). */
export type KvFormat = 'f32' | 'f16';

/**
 * Kernel variants for an adapter, as measured (npm run bench:kernels, bench/kernelProfile):
 * - CPU adapters run GEMV fastest when every invocation streams its own rows (SwiftShader: 2.0 GB/s
 *   row-major, 1.2 GB/s tiled by 64); GPUs need neighbouring invocations on neighbouring chunks.
 * - SwiftShader widens bytes fastest with the unpack builtins (int8 GEMV 2.07 against 1.28 GB/s),
 *   lavapipe with integer operations (3.35 against 2.19 GB/s).
 * - A GPU needs many invocations in flight to reach its bandwidth: gemv's 4 rows an invocation leave a
 *   9216-row matrix 2304 of them, gemvSliced 147456 (not measured here: no GPU was at hand; CPU adapters
 *   keep gemv, barrier-free).
 * - SwiftShader runs a workgroup's barriers as switches between its groups of 4 lanes: argmax takes
 *   35 µs with workgroups of 4, 424 µs with 256.
 * - Attention needs no barrier; a CPU adapter runs a workgroup of 64 on one thread, so a few of them
 *   keep its cores busy, where a GPU wants thousands of invocations.
 * - A CPU adapter runs each workgroup on one thread, so a small model's decode kernels, one workgroup
 *   of 64 each, ran on one core (Gpu.spread).
 * - The KV cache is f16 on a GPU with shader-f16, the mark of hardware with fast halves (a long
 *   context's attention reads its whole cache every token); software adapters (lavapipe has
 *   shader-f16 too) keep f32, which is exact to the reference. The packed halves need no feature, so
 *   both formats run on every adapter.
 * - A CPU adapter folds a decoded token's RMSNorm into the kernel that reads it: the norm's own
 *   dispatches cost stories260k a fifth of its decode time on SwiftShader, more than its readers'
 *   extra pass over the row. On a GPU, every invocation of a sliced gemv would sum the whole row.
 */
export function kernelChoices(info: GPUAdapterInfo | undefined, features?: ReadonlySet<string>): KernelChoices {
  const text = info ? `${info.vendor} ${info.architecture} ${info.description} ${info.device}` : '';
  const swiftshader = /swiftshader/i.test(text);
  const cpu = !!info && (info.isFallbackAdapter || swiftshader || /llvmpipe|lavapipe/i.test(text));
  return {
    tileRows: cpu ? 1 : 64,
    unpackBytes: swiftshader ? 1 : 0,
    barrierWorkgroup: swiftshader ? 4 : 256,
    gemv: cpu ? 'rows' : 'sliced',
    attentionThreads: cpu ? 256 : 16384,
    lanes: info?.subgroupMinSize || (cpu ? 4 : 32),
    threads: cpu ? host.threads : 0,
    kvFormat: !cpu && features?.has('shader-f16') ? 'f16' : 'f32',
    foldNorm: cpu,
  };
}

/**
 * The workgroup size of a barrier-free kernel of `invocations` along x (`copies` times over y): 64, or
 * on a CPU adapter, which runs each workgroup on one of its threads, the size that spreads them
 * evenly: halving from 64 down to its lanes, the smallest size whose busiest thread runs a tenth fewer
 * lane groups than the best larger one (a smaller workgroup costs its own overhead). SwiftShader
 * (2 cores) runs 64 invocations of 256 loads each in 101 µs as one workgroup, in 65 µs as two of 32.
 */
export function spreadWorkgroup(c: Pick<KernelChoices, 'threads' | 'lanes'>, invocations: number, copies = 1): number {
  // Enough workgroups of 64 already (or a GPU).
  if (!c.threads || Math.ceil(invocations / 64) * copies >= 4 * c.threads) return 64;
  // The lane groups of the busiest thread, the first, which takes workgroups 0, threads, 2·threads, …
  const time = (wg: number) => {
    const groups = Math.ceil(invocations / wg);
    let t = 0;
    for (let g = 0; g < groups * copies; g += c.threads) t += Math.ceil(Math.min(wg, invocations - (g % groups) * wg) / c.lanes);
    return t;
  };
  let best = 64;
  for (let wg = 32; wg >= c.lanes; wg /= 2) if (time(wg) < 0.9 * time(best)) best = wg;
  return best;
}

/** One device with its pipeline cache, uniform arena and staging buffers. */
export class Gpu {
  readonly maxBindingBytes: number;
  readonly maxTensorPartBytes: number;
  readonly choices: KernelChoices;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  readonly arena: GPUBuffer;
  private readonly staging: GPUBuffer[] = [];
  /**
   * Bind groups by pipeline and resources: a decode step binds the same buffers at the same arena
   * slots every token, and creating its bind groups was a large part of recording one.
   */
  private readonly groups = new WeakMap<GPUComputePipeline, Map<string, GPUBindGroup>>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  /**
   * The first validation or out-of-memory error the device reported. Such an error drops a whole
   * submit silently, so every readback after it fails instead of returning stale bytes.
   */
  error: string | null = null;
  /** Work recorded on this device so far: what a decode step costs in dispatches, passes and submits. */
  readonly counts = { dispatches: 0, passes: 0, submits: 0 };

  constructor(
    readonly device: GPUDevice,
    opts: GpuOptions = {},
  ) {
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.maxBindingBytes = limit & ~3;
    this.maxTensorPartBytes = Math.min(limit, opts.maxTensorPartBytes ?? limit) & ~3;
    this.choices = { ...kernelChoices(device.adapterInfo, device.features), ...opts.choices };
    device.addEventListener('uncapturederror', (e) => {
      this.error ??= (e as GPUUncapturedErrorEvent).error.message;
    });
    this.arena = device.createBuffer({
      label: 'params arena',
      size: SLOT * SLOTS,
      usage: USAGE.UNIFORM | USAGE.COPY_DST,
    });
  }

  /** Compiled once per (shader, entry point, constants): compilation is the slow part on every adapter. */
  pipeline(shader: string, constants: Record<string, number> = {}, entryPoint = 'main'): GPUComputePipeline {
    const key = `${shader}:${entryPoint}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      let module = this.modules.get(shader);
      if (!module) {
        module = this.device.createShaderModule({ label: shader, code: shaderSource(shader) });
        this.modules.set(shader, module);
      }
      p = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint, constants },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** The workgroup size of a barrier-free kernel of `invocations` along x, `copies` times over y (spreadWorkgroup). */
  spread(invocations: number, copies = 1): number {
    return spreadWorkgroup(this.choices, invocations, copies);
  }

  /** The bind group of `pipeline` with params at `offset` of the arena and `bindings` after them. */
  bindGroup(pipeline: GPUComputePipeline, offset: number, size: number, bindings: (Binding | null)[]): GPUBindGroup {
    const id = (b: GPUBuffer) => {
      let n = this.bufferIds.get(b);
      if (n === undefined) this.bufferIds.set(b, (n = this.nextBufferId++));
      return n;
    };
    const key = `${offset}:${size}|` + bindings.map((b) => (!b ? '-' : 'buffer' in b ? `${id(b.buffer)}@${b.offset ?? 0}+${b.size ?? ''}` : id(b))).join(',');
    let byKey = this.groups.get(pipeline);
    if (!byKey) this.groups.set(pipeline, (byKey = new Map()));
    let group = byKey.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arena, offset, size } }];
      bindings.forEach((b, i) => b && entries.push({ binding: i + 1, resource: 'buffer' in b ? b : { buffer: b } }));
      group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      // Buffers come and go (KV caches grow, workspaces are resized): keep the cache from growing without bound.
      if (byKey.size >= 1024) byKey.clear();
      byKey.set(key, group);
    }
    return group;
  }

  /** Bytes of the buffers this Gpu made that are not destroyed yet, and the most there ever were. */
  bytesInUse = 0;
  peakBytes = 0;

  buffer(bytes: number, label: string, usage = STORAGE): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const b = this.device.createBuffer({ label, size, usage });
    this.bytesInUse += size;
    this.peakBytes = Math.max(this.peakBytes, this.bytesInUse);
    const destroy = b.destroy.bind(b);
    let live = true;
    b.destroy = () => {
      if (live) (live = false), (this.bytesInUse -= size);
      destroy();
    };
    return b;
  }

  private spareBuffer: GPUBuffer | null = null;
  /** A small buffer for a writable binding a pipeline's layout holds but its constants leave unused (it cannot repeat a read one). */
  get spare(): GPUBuffer {
    return (this.spareBuffer ??= this.buffer(16, 'unused binding'));
  }

  /** A buffer holding `data` (padded to 4 bytes). */
  upload(data: ArrayBufferView, label: string): GPUBuffer {
    const buf = this.buffer(data.byteLength, label);
    this.write(buf, 0, data);
    return buf;
  }

  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      bytes = padded;
    }
    this.device.queue.writeBuffer(buffer, offset, bytes);
  }

  recorder(): Recorder {
    return new Recorder(this);
  }

  takeStaging(size: number): GPUBuffer {
    const i = this.staging.findIndex((b) => b.size >= size);
    if (i >= 0) return this.staging.splice(i, 1)[0];
    return this.device.createBuffer({
      label: 'readback',
      size: Math.max(256, Math.ceil(size / 256) * 256),
      usage: USAGE.MAP_READ | USAGE.COPY_DST,
    });
  }

  giveStaging(b: GPUBuffer): void {
    if (this.staging.length < 8) this.staging.push(b);
    else b.destroy();
  }

  /** Reads `size` bytes of `src` back to the CPU (one submit). */
  async read(src: GPUBuffer, offset: number, size: number): Promise<ArrayBuffer> {
    const rec = this.recorder();
    const p = rec.read(src, offset, size);
    rec.submit();
    return p;
  }

  destroy(): void {
    this.arena.destroy();
    this.spareBuffer?.destroy();
    for (const b of this.staging) b.destroy();
    this.staging.length = 0;
  }
}

export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/**
 * Records dispatches into one command encoder. Uniform params go into a CPU copy of the arena that is
 * written just before each submit; queue order makes reusing the arena after a submit safe.
 */
export class Recorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private readonly params = new Uint32Array((SLOT * SLOTS) / 4);
  private slot = 0;
  private after: (() => void)[] = [];
  private reads: { staging: GPUBuffer; size: number; resolve: (b: ArrayBuffer) => void; reject: (e: unknown) => void }[] =
    [];

  constructor(private readonly gpu: Gpu) {
    this.encoder = gpu.device.createCommandEncoder();
  }

  /** bindings[i] goes to @binding(i + 1); null leaves a binding out (one an entry point does not use). */
  dispatch(pipeline: GPUComputePipeline, params: Params, bindings: (Binding | null)[], x: number, y = 1, z = 1): void {
    if (x === 0 || y === 0 || z === 0) return;
    this.bind(pipeline, params, bindings).dispatchWorkgroups(x, y, z);
  }

  /** A dispatch whose workgroup counts a kernel wrote to `args` (three u32 at `offset`). */
  dispatchIndirect(pipeline: GPUComputePipeline, params: Params, bindings: (Binding | null)[], args: GPUBuffer, offset: number): void {
    this.bind(pipeline, params, bindings).dispatchWorkgroupsIndirect(args, offset);
  }

  private bind(pipeline: GPUComputePipeline, params: Params, bindings: (Binding | null)[]): GPUComputePassEncoder {
    if (this.slot === SLOTS) this.submit();
    const offset = this.slot++ * SLOT;
    this.params.set(params.words, offset / 4);
    const group = this.gpu.bindGroup(pipeline, offset, params.size, bindings);
    this.gpu.counts.dispatches++;
    if (!this.pass) this.gpu.counts.passes++;
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    return this.pass;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  clear(buffer: GPUBuffer, offset = 0, size?: number): void {
    this.endPass();
    this.encoder.clearBuffer(buffer, offset, size);
  }

  /** Copies `size` bytes of `src` to the CPU; the promise settles after the next submit. */
  read(src: GPUBuffer, offset: number, size: number): Promise<ArrayBuffer> {
    const staging = this.gpu.takeStaging(size);
    this.copy(src, offset, staging, 0, Math.ceil(size / 4) * 4);
    return new Promise((resolve, reject) => this.reads.push({ staging, size, resolve, reject }));
  }

  /** Runs `fn` right after the next submit (e.g. to destroy a buffer that submit still uses). */
  afterSubmit(fn: () => void): void {
    this.after.push(fn);
  }

  submit(): void {
    this.endPass();
    // A typed array's offset and size count its elements (u32s here).
    if (this.slot > 0) this.gpu.device.queue.writeBuffer(this.gpu.arena, 0, this.params, 0, (this.slot * SLOT) / 4);
    this.gpu.device.queue.submit([this.encoder.finish()]);
    this.gpu.counts.submits++;
    this.after.splice(0).forEach((fn) => fn());
    this.encoder = this.gpu.device.createCommandEncoder();
    this.slot = 0;
    for (const r of this.reads) {
      r.staging.mapAsync(MAP_READ_MODE).then(
        () => {
          const out = r.staging.getMappedRange(0, Math.ceil(r.size / 4) * 4).slice(0, r.size);
          r.staging.unmap();
          this.gpu.giveStaging(r.staging);
          if (this.gpu.error) r.reject(new Error(`GPU error: ${this.gpu.error.split('\n')[0]}`));
          else r.resolve(out);
        },
        (e) => r.reject(e),
      );
    }
    this.reads = [];
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

/** Workgroup counts for `count` invocations of a 1-D kernel, folded into y past the 65535 limit. */
export function grid(count: number, workgroupSize: number): [number, number] {
  const groups = Math.ceil(count / workgroupSize);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
