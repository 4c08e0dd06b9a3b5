/**
 * Named device profiles: what edgeq expects each target to offer, and the backend it
 * should end up on. Documentation in code form: `deno task edgeq devices` prints this
 * machine's detected profile beside them. Figures are the boards' published specs;
 * the wasm/WebGPU expectations are for current Deno (V8 ≥ 12) and Chromium (≥ 121).
 * @module
 */

/** An expected profile of a target device. */
export interface NamedProfile {
  /** Key, e.g. "rpi4". */
  id: string;
  /** Board / setting. */
  name: string;
  /** CPU cores and micro-architecture. */
  cpu: string;
  arch: "aarch64" | "x86_64";
  cores: number;
  /** RAM, GiB (the common variant). */
  memoryGiB: number;
  /** Expected wasm features in Deno / Chromium on it. */
  wasm: { simd: boolean; relaxedSimd: boolean; threads: boolean };
  /** Expected WebGPU situation. */
  webgpu: string;
  /** How the int8 dot products map to the hardware. */
  int8: string;
  /** The backend `auto` should pick there (the measured probe decides in the end). */
  expectedBackend: "wasm" | "webgpu";
}

/**
 * The targets edgeq cares about.
 *
 * @example
 * ```ts
 * NAMED_PROFILES.find((p) => p.id === "rpi5")!.cpu; // "4× Cortex-A76 @ 2.4 GHz"
 * ```
 */
export const NAMED_PROFILES: readonly NamedProfile[] = [
  {
    id: "rpi4",
    name: "Raspberry Pi 4 Model B",
    cpu: "4× Cortex-A72 @ 1.5–1.8 GHz (ARMv8.0-A)",
    arch: "aarch64",
    cores: 4,
    memoryGiB: 4,
    wasm: { simd: true, relaxedSimd: true, threads: true },
    webgpu: "VideoCore VI (V3D 4.2) via Mesa v3dv Vulkan 1.2: usually no WebGPU adapter " +
      "(Chromium does not enable it on Linux/ARM; Deno's wgpu may get one, slow)",
    int8: "no SDOT (ARMv8.0): the relaxed dot runs as widening multiply + pairwise-add " +
      "sequences (expected; not measured here)",
    expectedBackend: "wasm",
  },
  {
    id: "rpi5",
    name: "Raspberry Pi 5",
    cpu: "4× Cortex-A76 @ 2.4 GHz (ARMv8.2-A, dotprod)",
    arch: "aarch64",
    cores: 4,
    memoryGiB: 8,
    wasm: { simd: true, relaxedSimd: true, threads: true },
    webgpu: "VideoCore VII (V3D 7.1) via Mesa v3dv: adapter possible in Deno, rarely in " +
      "Chromium; slower than the CPU for int8",
    int8: "SDOT: V8's relaxed_dot_i8x16_i7x16 maps to SDOT (signed i7 operand)",
    expectedBackend: "wasm",
  },
  {
    id: "jetson-orin-nano",
    name: "NVIDIA Jetson Orin Nano (8 GB)",
    cpu: "6× Cortex-A78AE @ 1.5 GHz (ARMv8.2-A, dotprod)",
    arch: "aarch64",
    cores: 6,
    memoryGiB: 8,
    wasm: { simd: true, relaxedSimd: true, threads: true },
    webgpu: "Ampere GPU, 1024 CUDA cores, via the NVIDIA Vulkan driver: a real adapter " +
      "(dot4I8Packed available); WebGPU wins on large models",
    int8: "CPU: SDOT; GPU: dot4I8Packed / DP4A",
    expectedBackend: "webgpu",
  },
  {
    id: "desktop-browser",
    name: "Desktop browser (Chromium ≥ 121 on x86-64)",
    cpu: "4–16 cores x86-64 (AVX2, often AVX-VNNI)",
    arch: "x86_64",
    cores: 8,
    memoryGiB: 16,
    wasm: { simd: true, relaxedSimd: true, threads: true },
    webgpu: "discrete or integrated GPU adapter; threads need a cross-origin isolated page " +
      "(COOP/COEP headers), else wasm runs single-threaded",
    int8: "relaxed dot → VPDPBUSD (VNNI, unsigned×signed) or PMADDUBSW; GPU dot4I8Packed",
    expectedBackend: "webgpu",
  },
];
