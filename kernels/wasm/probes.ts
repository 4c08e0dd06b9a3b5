/**
 * Tiny wasm modules that feature-detect SIMD and relaxed SIMD with
 * `WebAssembly.validate` (one place: the wasm backend and device detection use them).
 * @module
 */

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
// type () -> v128; one function of that type.
const TYPES = [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00];
const V128_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];

/**
 * A module whose one function returns `v128.const 0` (SIMD).
 *
 * @example
 * ```ts
 * WebAssembly.validate(SIMD_PROBE); // true where wasm SIMD exists
 * ```
 */
export const SIMD_PROBE: Uint8Array = Uint8Array.from([
  ...HEADER,
  ...TYPES,
  0x0a,
  22,
  0x01,
  20,
  0x00,
  ...V128_ZERO,
  0x0b,
]);

/**
 * A module using `i8x16.relaxed_swizzle` (opcode 0xfd 0x100): relaxed SIMD.
 *
 * @example
 * ```ts
 * WebAssembly.validate(RELAXED_SIMD_PROBE); // true in Deno 2 / Chrome >= 114
 * ```
 */
export const RELAXED_SIMD_PROBE: Uint8Array = Uint8Array.from([
  ...HEADER,
  ...TYPES,
  0x0a,
  43,
  0x01,
  41,
  0x00,
  ...V128_ZERO,
  ...V128_ZERO,
  0xfd,
  0x80,
  0x02,
  0x0b,
]);

/**
 * True when the engine validates `bytes` (false where WebAssembly is missing).
 *
 * @example
 * ```ts
 * validates(SIMD_PROBE);
 * ```
 */
export function validates(bytes: Uint8Array): boolean {
  try {
    return typeof WebAssembly !== "undefined" && WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}
