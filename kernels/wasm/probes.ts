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

/**
 * A module whose export `f` returns lane 0 of `i32x4.relaxed_dot_i8x16_i7x16_add_s` of
 * i8 127s against i7-operand bytes 0xff (outside the portable 0..127 range on purpose):
 * the host's lowering shows in the result. 4·127·255 = 129540: an exact unsigned dot
 * (x86 vpdpbusd, AVX-VNNI); 65534: i16 pair sums saturated at 32767 (x86 pmaddubsw +
 * pmaddwd, no AVX-VNNI); −508: a signed dot (ARM sdot).
 *
 * @example
 * ```ts
 * relaxedDotLowering(); // "pmaddubsw" on x86 without AVX-VNNI
 * ```
 */
export const RELAXED_DOT_PROBE: Uint8Array = Uint8Array.from([
  ...HEADER,
  // type () -> i32; one function; export "f"
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7f,
  0x03,
  0x02,
  0x01,
  0x00,
  0x07,
  0x05,
  0x01,
  0x01,
  0x66,
  0x00,
  0x00,
  0x0a,
  64,
  0x01,
  62,
  0x00,
  0xfd,
  0x0c,
  ...new Array<number>(16).fill(0x7f),
  0xfd,
  0x0c,
  ...new Array<number>(16).fill(0xff),
  ...V128_ZERO,
  0xfd,
  0x93,
  0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s
  0xfd,
  0x1b,
  0x00, // i32x4.extract_lane 0
  0x0b,
]);

/** How this engine lowers the relaxed dot (see {@link RELAXED_DOT_PROBE}). */
export type RelaxedDotLowering = "vnni" | "pmaddubsw" | "sdot" | "other" | "none";

/**
 * Runs {@link RELAXED_DOT_PROBE} (once per process): "none" where relaxed SIMD is missing.
 *
 * @example
 * ```ts
 * relaxedDotLowering(); // "vnni" | "pmaddubsw" | "sdot" | "other" | "none"
 * ```
 */
export function relaxedDotLowering(): RelaxedDotLowering {
  return lowering ??= probeLowering();
}

/** The engine's answer, found once (every kernel instantiation asks: instance.ts). */
let lowering: RelaxedDotLowering | undefined;

function probeLowering(): RelaxedDotLowering {
  if (!validates(RELAXED_DOT_PROBE)) return "none";
  try {
    const inst = new WebAssembly.Instance(
      new WebAssembly.Module(RELAXED_DOT_PROBE as BufferSource),
    );
    const v = (inst.exports.f as () => number)();
    return v === 129540 ? "vnni" : v === 65534 ? "pmaddubsw" : v === -508 ? "sdot" : "other";
  } catch {
    return "none";
  }
}
