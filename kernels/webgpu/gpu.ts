/**
 * The WebGPU device the backend runs on: acquisition (one shared device per process,
 * re-acquired after a loss), capabilities (the `packed_4x8_integer_dot_product` WGSL
 * feature, `timestamp-query`, limits), and error scopes that turn validation and
 * out-of-memory errors into {@link EdgeqError}s naming the layer.
 *
 * Typings: Deno's built-in WebGPU declarations (they lack `wgslLanguageFeatures`, read
 * here through a narrow structural type).
 *
 * @example
 * ```ts
 * const ctx = await acquireGpu();
 * console.log(ctx.dot4, ctx.timestamps, ctx.adapterName);
 * ```
 * @module
 */
import { EdgeqError, type ErrorWhere } from "../../runtime/errors.ts";

/** The WGSL language feature that provides `dot4I8Packed` and `pack4xI8`. */
export const DOT4_FEATURE = "packed_4x8_integer_dot_product";

/** A device and what it can do. */
export interface GpuContext {
  device: GPUDevice;
  /** True when WGSL has `dot4I8Packed` here. */
  dot4: boolean;
  /** True when the device was created with `timestamp-query`. */
  timestamps: boolean;
  /** The adapter's description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  adapterName: string;
  /** The device's limits. */
  limits: GPUSupportedLimits;
  /** Set once the device is lost (destroyed, reset, crashed). */
  lost: { reason: string; message: string } | null;
}

interface GpuWithLanguage {
  wgslLanguageFeatures?: ReadonlySet<string>;
}

let current: Promise<GpuContext> | null = null;

/**
 * Why WebGPU cannot run here, or null when an adapter exists.
 *
 * @example
 * ```ts
 * const why = await gpuUnavailable(); // null on this machine (llvmpipe)
 * ```
 */
export async function gpuUnavailable(): Promise<string | null> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return "navigator.gpu is missing (no WebGPU in this runtime)";
  try {
    const a = await gpu.requestAdapter();
    return a ? null : `no WebGPU adapter${backendHint()}`;
  } catch (e) {
    return `requestAdapter failed: ${(e as Error).message}${backendHint()}`;
  }
}

/**
 * Names Deno's `DENO_WEBGPU_BACKEND` when it is set (it limits wgpu to one backend, and
 * `deno task test` sets it to `vulkan`), so that a missing adapter points at the driver.
 * Reads it only where env access is already granted: never a prompt.
 */
function backendHint(): string {
  const d = (globalThis as { Deno?: typeof Deno }).Deno;
  const v = "DENO_WEBGPU_BACKEND";
  try {
    if (d?.permissions.querySync?.({ name: "env", variable: v }).state !== "granted") return "";
    const b = d.env.get(v);
    if (!b) return "";
    const debian = b === "vulkan" ? " On Debian: mesa-vulkan-drivers." : "";
    return ` (${v}=${b} limits wgpu to that backend: is its driver installed?${debian})`;
  } catch {
    return "";
  }
}

/**
 * The shared device (created on first use, and again after a loss).
 *
 * @example
 * ```ts
 * const { device } = await acquireGpu();
 * ```
 */
export function acquireGpu(): Promise<GpuContext> {
  if (current) {
    const c = current;
    return c.then((ctx) => {
      if (!ctx.lost) return ctx;
      if (current === c) current = null;
      return acquireGpu();
    });
  }
  current = createContext();
  current.catch(() => current = null);
  return current;
}

async function createContext(): Promise<GpuContext> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) throw new EdgeqError("E_BACKEND", "WebGPU is not available (navigator.gpu missing)");
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new EdgeqError("E_BACKEND", "WebGPU: no adapter");
  const want: GPUFeatureName[] = [];
  const timestamps = adapter.features.has("timestamp-query");
  if (timestamps) want.push("timestamp-query");
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: want,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  const lang = (gpu as unknown as GpuWithLanguage).wgslLanguageFeatures;
  const ctx: GpuContext = {
    device,
    dot4: lang?.has(DOT4_FEATURE) ?? false,
    timestamps,
    adapterName: adapter.info?.description || adapter.info?.vendor || "unknown adapter",
    limits: device.limits,
    lost: null,
  };
  device.lost.then((info) => {
    ctx.lost = { reason: String(info.reason), message: info.message };
  });
  return ctx;
}

/**
 * Runs `f` inside validation and out-of-memory error scopes and throws an
 * `E_BACKEND` {@link EdgeqError} naming `where` when either caught an error.
 *
 * @example
 * ```ts
 * const buf = await scoped(device, { node: "conv1" }, "creating weights", () =>
 *   device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE }));
 * ```
 */
export async function scoped<T>(
  device: GPUDevice,
  where: ErrorWhere,
  what: string,
  f: () => T,
): Promise<T> {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let result: T;
  let thrown: unknown;
  try {
    result = f();
  } catch (e) {
    thrown = e;
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (thrown) {
    throw new EdgeqError("E_BACKEND", `WebGPU ${what} failed: ${(thrown as Error).message}`, where);
  }
  if (oom) throw new EdgeqError("E_BACKEND", `WebGPU out of memory ${what}: ${oom.message}`, where);
  if (validation) {
    throw new EdgeqError(
      "E_BACKEND",
      `WebGPU validation error ${what}: ${validation.message}`,
      where,
    );
  }
  return result!;
}

/**
 * Throws `E_BACKEND` when the context's device has been lost.
 *
 * @example
 * ```ts
 * checkLost(ctx, { node: "conv1" });
 * ```
 */
export function checkLost(ctx: GpuContext, where: ErrorWhere = {}): void {
  if (ctx.lost) {
    throw new EdgeqError(
      "E_BACKEND",
      `WebGPU device lost (${ctx.lost.reason}: ${ctx.lost.message || "no message"}); ` +
        "the next run re-initialises the model",
      where,
    );
  }
}
