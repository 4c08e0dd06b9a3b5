/**
 * Instantiating the kernels: feature detection (relaxed SIMD, shared memory), the
 * choice of build, and the module's typed exports.
 * @module
 */
import { RELAXED_SIMD_PROBE, relaxedDotLowering, validates } from "./probes.ts";
import { decodeBase64 } from "./base64.ts";
import {
  BASELINE_WASM_B64,
  RELAXED_PAIR_WASM_B64,
  RELAXED_WASM_B64,
} from "./build/kernels_wasm.ts";
import { MAX_PAGES } from "./sources.ts";

/**
 * Which build runs: `baseline` (SIMD only), `relaxed` (relaxed SIMD, fused relaxed dot),
 * `relaxed-pair` (relaxed SIMD, the dot as an i16 relaxed dot + `dot_i16x8`; sources.ts).
 * All give the same bits.
 */
export type BuildName = "baseline" | "relaxed" | "relaxed-pair";

/**
 * The build for this engine: `relaxed-pair` where the relaxed dot is lowered to pmaddubsw +
 * pmaddwd (x86 without AVX-VNNI: the pair form saves the ones vector V8 rebuilds per dot,
 * the pure dot loop of bench:gemm 84 → 108 GOP/s on a Zen 4), `relaxed` elsewhere with relaxed SIMD (one sdot / vpdpbusd per dot),
 * else `baseline`.
 *
 * @example
 * ```ts
 * defaultBuild(); // "relaxed-pair" on a Zen 4 without AVX-VNNI
 * ```
 */
export function defaultBuild(): BuildName {
  if (!hasRelaxedSimd()) return "baseline";
  return relaxedDotLowering() === "pmaddubsw" ? "relaxed-pair" : "relaxed";
}

/** The kernel exports (all pointers are byte offsets into the shared memory). */
export interface KernelExports {
  relaxed(): number;
  prep_x(
    x: number,
    signed: number,
    C: number,
    HW: number,
    Cp: number,
    dst: number,
    lo: number,
    hi: number,
  ): void;
  fill_row(dst: number, u: number, C: number, Cp: number): void;
  fill_row7(dst: number, u: number, C: number, Cp: number): void;
  pack_w7(w: number, K: number, Kp: number, dst: number, lo: number, hi: number): void;
  pack_rows(
    x: number,
    signed: number,
    K: number,
    Kp: number,
    dst: number,
    lo: number,
    hi: number,
  ): void;
  pack_w(
    w: number,
    K: number,
    Kp: number,
    dst: number,
    colsum: number,
    lo: number,
    hi: number,
  ): void;
  gemm(
    a: number,
    lda: number,
    w: number,
    ldw: number,
    steps: number,
    ep: number,
    rowBase: number,
    nrows: number,
    c0: number,
    c1: number,
  ): void;
  peak_dot(a: number, w: number, n: number, reps: number): number;
  conv_scratch_bytes(prb: number): number;
  conv_k4_scratch_bytes(prb: number, rb: number, kq: number): number;
  dc_corr_bytes(ow: number, kw: number): number;
  qmatmul_prep(
    a: number,
    asg: number,
    b: number,
    bsg: number,
    M: number,
    K: number,
    N: number,
    Kp: number,
    aPk: number,
    bPk: number,
    ccol: number,
    crow: number,
    azpU: number,
    bzp2: number,
  ): void;
  [kernel: string]: ((...args: number[]) => number | void) | unknown;
}

/**
 * True when this engine validates relaxed-SIMD instructions.
 *
 * @example
 * ```ts
 * hasRelaxedSimd(); // true in Deno 2 / Chrome >= 114
 * ```
 */
export function hasRelaxedSimd(): boolean {
  return validates(RELAXED_SIMD_PROBE);
}

/**
 * True when SharedArrayBuffer-backed wasm memory can be created (Deno; browsers only
 * when cross-origin isolated).
 *
 * @example
 * ```ts
 * if (!canShareMemory()) console.warn("one thread only");
 * ```
 */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  const g = globalThis as { crossOriginIsolated?: boolean; document?: unknown };
  if (g.document !== undefined && g.crossOriginIsolated === false) return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

const bytesCache = new Map<string, Uint8Array>();

/**
 * The module bytes of a build; `shared: false` patches the memory import to an
 * unshared one (for engines without SharedArrayBuffer; single thread).
 *
 * @example
 * ```ts
 * const bytes = moduleBytes("relaxed", true);
 * ```
 */
export function moduleBytes(build: BuildName, shared: boolean): Uint8Array {
  const key = `${build}:${shared}`;
  let b = bytesCache.get(key);
  if (!b) {
    b = decodeBase64(
      build === "relaxed"
        ? RELAXED_WASM_B64
        : build === "relaxed-pair"
        ? RELAXED_PAIR_WASM_B64
        : BASELINE_WASM_B64,
    );
    if (!shared) unshareMemoryImport(b);
    bytesCache.set(key, b);
  }
  return b;
}

function leb(b: Uint8Array, o: number): [number, number] {
  let v = 0, s = 0;
  for (;;) {
    const x = b[o++];
    v |= (x & 0x7f) << s;
    s += 7;
    if (!(x & 0x80)) return [v >>> 0, o];
  }
}

/** Flips the shared flag of the imported memory's limits (0x03 → 0x01) in place. */
function unshareMemoryImport(b: Uint8Array): void {
  let o = 8;
  while (o < b.length) {
    const id = b[o++];
    let size: number;
    [size, o] = leb(b, o);
    const end = o + size;
    if (id === 2) {
      let n: number;
      [n, o] = leb(b, o);
      for (let i = 0; i < n; i++) {
        for (let s = 0; s < 2; s++) {
          let len: number;
          [len, o] = leb(b, o);
          o += len;
        }
        const kind = b[o++];
        if (kind === 2) {
          if (b[o] === 3) b[o] = 1;
          return;
        }
        if (kind === 0) [, o] = leb(b, o);
        else if (kind === 1) {
          o++;
          const f = b[o++];
          [, o] = leb(b, o);
          if (f & 1) [, o] = leb(b, o);
        } else if (kind === 3) o += 2;
        else throw new Error(`unexpected import kind ${kind}`);
      }
      return;
    }
    o = end;
  }
}

/** A kernel instance bound to a memory. */
export interface KernelInstance {
  build: BuildName;
  memory: WebAssembly.Memory;
  shared: boolean;
  k: KernelExports;
}

const modCache = new Map<string, WebAssembly.Module>();

/**
 * The compiled module of a build (cached).
 *
 * @example
 * ```ts
 * const mod = kernelModule("baseline", true);
 * ```
 */
export function kernelModule(build: BuildName, shared: boolean): WebAssembly.Module {
  const key = `${build}:${shared}`;
  let m = modCache.get(key);
  if (!m) {
    m = new WebAssembly.Module(moduleBytes(build, shared) as BufferSource);
    modCache.set(key, m);
  }
  return m;
}

/**
 * Instantiates the kernels on a new memory of `pages` 64 KiB pages.
 *
 * @example
 * ```ts
 * const inst = instantiate({ pages: 64 }); // relaxed when the engine has it
 * inst.k.relaxed(); // 1
 * ```
 */
export function instantiate(
  opts: { pages: number; build?: BuildName; shared?: boolean; memory?: WebAssembly.Memory },
): KernelInstance {
  const build = opts.build ?? defaultBuild();
  const shared = opts.shared ?? canShareMemory();
  const memory = opts.memory ??
    new WebAssembly.Memory(
      { initial: opts.pages, maximum: MAX_PAGES, shared } as WebAssembly.MemoryDescriptor,
    );
  const inst = new WebAssembly.Instance(kernelModule(build, shared), { env: { memory } });
  return { build, memory, shared, k: inst.exports as unknown as KernelExports };
}
