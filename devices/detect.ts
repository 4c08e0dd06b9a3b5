/**
 * Capability detection: what this device offers to edgeq's backends, as one
 * {@link DeviceProfile}. Works in Deno and in browsers (fields that a host does not
 * expose are left undefined). Nothing is written; nothing leaves the process.
 *
 * - wasm SIMD and relaxed SIMD: `WebAssembly.validate` on two tiny modules
 *   (a `v128.const`, an `i8x16.relaxed_swizzle`).
 * - wasm threads: `SharedArrayBuffer` and a shared `WebAssembly.Memory`; in browsers
 *   also `crossOriginIsolated` (COOP/COEP headers).
 * - cores (`navigator.hardwareConcurrency`), OS/arch (`Deno.build`, else the user
 *   agent), memory (`Deno.systemMemoryInfo`, needs `--allow-sys`; else
 *   `navigator.deviceMemory` in Chromium).
 * - WebGPU: the adapter's info, features, limits, and the WGSL language features
 *   (e.g. `packed_4x8_integer_dot_product` for the int8 dot4 path).
 * @module
 */

/** WebGPU facts of this device. */
export interface GpuProfile {
  /** An adapter was granted. */
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** A software / fallback adapter (llvmpipe, SwiftShader). */
  fallback?: boolean;
  features: string[];
  limits: Record<string, number>;
  /** WGSL language features (navigator.gpu.wgslLanguageFeatures). */
  wgslFeatures: string[];
}

/** Everything edgeq's backend choice looks at. */
export interface DeviceProfile {
  /** "deno", "browser" or "other". */
  host: "deno" | "browser" | "other";
  /** Host version (Deno / V8), or the user agent in a browser. */
  hostVersion: string;
  os: string;
  arch: string;
  /** Logical cores. */
  cores: number;
  /** Total / available memory in bytes, where readable. */
  memory?: { total: number; available?: number };
  wasm: {
    simd: boolean;
    relaxedSimd: boolean;
    /**
     * How the engine lowers the relaxed int8 dot (kernels/wasm/probes.ts): "vnni" (x86
     * vpdpbusd), "pmaddubsw" (x86 without AVX-VNNI: the wasm backend takes its
     * relaxed-pair build), "sdot" (ARM), "other", or "none" without relaxed SIMD.
     */
    relaxedDot?: RelaxedDotLowering;
    /** SharedArrayBuffer + shared wasm memory usable here (and cross-origin isolated in a browser). */
    threads: boolean;
    /** Browsers only: the page is cross-origin isolated. */
    crossOriginIsolated?: boolean;
  };
  webgpu: GpuProfile;
  /** One line for humans. */
  summary: string;
}

export { RELAXED_SIMD_PROBE, SIMD_PROBE } from "../kernels/wasm/probes.ts";
import {
  RELAXED_SIMD_PROBE,
  type RelaxedDotLowering,
  relaxedDotLowering,
  SIMD_PROBE,
} from "../kernels/wasm/probes.ts";

function validate(bytes: Uint8Array): boolean {
  try {
    return WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}

function threadsUsable(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  try {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return m.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** The WebGPU limits reported (a fixed list: GPUSupportedLimits is not enumerable everywhere). */
const LIMIT_KEYS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
  "maxBindGroups",
];

/**
 * WebGPU adapter facts (a timeout guards hosts whose adapter request never settles).
 *
 * @example
 * ```ts
 * const gpu = await detectGpu();
 * if (gpu.wgslFeatures.includes("packed_4x8_integer_dot_product")) console.log("dot4");
 * ```
 */
export async function detectGpu(timeoutMs = 5000): Promise<GpuProfile> {
  const none = (reason: string): GpuProfile => ({
    available: false,
    reason,
    features: [],
    limits: {},
    wgslFeatures: [],
  });
  // deno-lint-ignore no-explicit-any
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) return none("navigator.gpu is absent (no WebGPU in this host)");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const adapter = await Promise.race([
      gpu.requestAdapter(),
      new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs))),
    ]);
    if (!adapter) return none("no WebGPU adapter granted");
    const info = adapter.info ?? {};
    const limits: Record<string, number> = {};
    for (const k of LIMIT_KEYS) {
      if (typeof adapter.limits?.[k] === "number") limits[k] = adapter.limits[k];
    }
    return {
      available: true,
      vendor: info.vendor || undefined,
      architecture: info.architecture || undefined,
      device: info.device || undefined,
      description: info.description || undefined,
      fallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
      features: [...(adapter.features ?? [])].map(String).sort(),
      limits,
      wgslFeatures: [...(gpu.wgslLanguageFeatures ?? [])].map(String).sort(),
    };
  } catch (e) {
    return none(`requestAdapter failed: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

/** `webgpu.reason` of a profile detected with `{ gpu: false }`: no adapter was requested. */
export const NOT_PROBED = "not probed";

/**
 * Detects this device's profile.
 *
 * @example
 * ```ts
 * const p = await detectProfile();
 * console.log(p.summary); // "deno 2.x linux x86_64, 2 cores, wasm simd+relaxed+threads, ..."
 * ```
 */
export async function detectProfile(opts: { gpu?: boolean } = {}): Promise<DeviceProfile> {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const isDeno = typeof g.Deno?.build === "object";
  const isBrowser = !isDeno && typeof g.document === "object";
  const ua: string = g.navigator?.userAgent ?? "";
  let memory: DeviceProfile["memory"];
  if (isDeno) {
    try {
      const m = Deno.systemMemoryInfo();
      memory = { total: m.total, available: m.available };
    } catch { /* no --allow-sys */ }
  } else if (typeof g.navigator?.deviceMemory === "number") {
    memory = { total: g.navigator.deviceMemory * 2 ** 30 };
  }
  const coi = isBrowser ? Boolean(g.crossOriginIsolated) : undefined;
  const wasm = {
    simd: validate(SIMD_PROBE),
    relaxedSimd: validate(RELAXED_SIMD_PROBE),
    relaxedDot: relaxedDotLowering(),
    threads: threadsUsable() && coi !== false,
    ...(coi === undefined ? {} : { crossOriginIsolated: coi }),
  };
  const webgpu = opts.gpu === false
    ? { available: false, reason: NOT_PROBED, features: [], limits: {}, wgslFeatures: [] }
    : await detectGpu();
  const p: Omit<DeviceProfile, "summary"> = {
    host: isDeno ? "deno" : isBrowser ? "browser" : "other",
    hostVersion: isDeno ? `deno ${Deno.version.deno} (V8 ${Deno.version.v8})` : ua,
    os: isDeno
      ? Deno.build.os
      : /Windows/.test(ua)
      ? "windows"
      : /Mac/.test(ua)
      ? "darwin"
      : /Android/.test(ua)
      ? "android"
      : /Linux/.test(ua)
      ? "linux"
      : "unknown",
    arch: isDeno
      ? Deno.build.arch
      : /aarch64|arm64/i.test(ua)
      ? "aarch64"
      : /x86_64|x64|Win64/i.test(ua)
      ? "x86_64"
      : "unknown",
    cores: g.navigator?.hardwareConcurrency ?? 1,
    memory,
    wasm,
    webgpu,
  };
  return { ...p, summary: summarize(p) };
}

/**
 * One line describing a profile.
 *
 * @example
 * ```ts
 * summarize(await detectProfile()); // "deno linux x86_64, 2 cores, 7.8 GiB, wasm simd+relaxed+threads, webgpu llvmpipe (fallback)"
 * ```
 */
export function summarize(p: Omit<DeviceProfile, "summary">): string {
  const w = p.wasm;
  const wasm = w.simd
    ? `wasm simd${w.relaxedSimd ? "+relaxed" : ""}${
      w.relaxedDot && w.relaxedDot !== "none" ? ` (dot: ${w.relaxedDot})` : ""
    }${w.threads ? "+threads" : ""}`
    : "wasm (no simd)";
  const gpu = p.webgpu.available
    ? `webgpu ${p.webgpu.description || p.webgpu.device || p.webgpu.vendor || "adapter"}${
      p.webgpu.fallback ? " (fallback)" : ""
    }`
    : p.webgpu.reason === NOT_PROBED
    ? "webgpu not probed"
    : "no webgpu";
  const mem = p.memory ? `, ${(p.memory.total / 2 ** 30).toFixed(1)} GiB` : "";
  return `${p.host} ${p.os} ${p.arch}, ${p.cores} cores${mem}, ${wasm}, ${gpu}`;
}
