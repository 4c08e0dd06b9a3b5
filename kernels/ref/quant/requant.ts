/**
 * Fixed-point requantization, written once (the gemmlowp / TFLite scheme).
 *
 * A real multiplier `M > 0` is encoded as an int32 mantissa `mult` in `[2^30, 2^31)`
 * and an exponent `shift` (TFLite's sign convention: positive = shift left):
 *
 *     M ≈ mult · 2^(shift − 31)
 *
 * and an int32 accumulator `acc` is rescaled by
 *
 *     MBQM(acc) = RDBPOT(SRDHM(sat32(acc · 2^L), mult), R),  L = max(shift, 0), R = max(−shift, 0)
 *
 * - **SRDHM** (`SaturatingRoundingDoublingHighMul`, = ARM `VQRDMULH`): the high half of
 *   the doubled 64-bit product, i.e. `a·b / 2^31` rounded to nearest **with ties toward
 *   +∞** (gemmlowp's `(ab + nudge) / 2^31` with C's truncating division and
 *   `nudge = ab >= 0 ? 2^30 : 1 − 2^30` equals `floor((ab + 2^30) / 2^31)` for every
 *   `ab`). The only product that leaves int32 is `INT32_MIN · INT32_MIN`, which
 *   saturates to `INT32_MAX`.
 * - **RDBPOT** (`RoundingDivideByPOT`, exponent 0..31): `x / 2^R` rounded to nearest
 *   with **ties away from zero**.
 * - So the scheme rounds twice: the result is the correctly rounded (half away from
 *   zero) value of `acc · M_q` (with `M_q = mult · 2^(shift−31)` exactly) except when
 *   that value lies within `2^−(R+1)` of a half-integer, where it may be off by one.
 *   Every backend must reproduce these two steps exactly, not the single rounding.
 * - Left shifts (`shift > 0`, multipliers `>= 1`) **saturate** the shifted accumulator to
 *   int32 before SRDHM (TFLite's reference overflows there, which is undefined).
 *
 * The output stage then adds the output zero point and clamps, exactly (as integers,
 * no int32 wrap): `y = min(max(MBQM(acc) + zp, qmin), qmax)`. A backend working in
 * int32 gets the same bits by clamping MBQM(acc) to `[qmin − zp, qmax − zp]` first.
 *
 * All of it runs on JS numbers without BigInt: the 62-bit product is split into 16-bit
 * halves so that every intermediate is an exact integer below 2^53. The tests check it
 * against a BigInt transcription of the C code.
 *
 * @example
 * ```ts
 * const { mult, shift } = quantizeMultiplier(0.0123);
 * requantize(1000, mult, shift); // 12 (= round(12.3))
 * requantize(1000, mult, shift, -5, -128, 127); // 7
 * ```
 * @module
 */
import { EdgeqError } from "../../../runtime/errors.ts";

/** The smallest int32, `-2^31`. */
export const INT32_MIN: number = -2147483648;
/** The largest int32, `2^31 - 1`. */
export const INT32_MAX = 2147483647;

/** An encoded real multiplier: `real ≈ mult · 2^(shift − 31)`. */
export interface QuantizedMultiplier {
  /** Q31 mantissa in `[2^30, 2^31)`, or 0 for a zero (or underflowing) multiplier. */
  mult: number;
  /** Exponent in `[-31, 30]`: positive shifts left before SRDHM, negative right after. */
  shift: number;
}

/**
 * Saturates an exact integer to the int32 range.
 *
 * @example
 * ```ts
 * sat32(2 ** 40); // 2147483647
 * ```
 */
export function sat32(x: number): number {
  return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : x;
}

/**
 * gemmlowp's `SaturatingRoundingDoublingHighMul(a, b)` for int32 `a`, `b`:
 * `floor((a·b + 2^30) / 2^31)` (nearest, ties toward +∞), and `INT32_MAX` for
 * `INT32_MIN · INT32_MIN`. Exact without BigInt.
 *
 * @example
 * ```ts
 * saturatingRoundingDoublingHighMul(1 << 30, 3); // 2 (1.5 rounds up)
 * saturatingRoundingDoublingHighMul(1 << 30, -3); // -1 (-1.5 rounds up too)
 * ```
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  // b = bh·2^16 + bl, bl in [0, 2^16). With q = floor(a·bl / 2^16) and t = a·bh + q,
  // floor((a·b + 2^30) / 2^31) = floor((t + 2^14) / 2^15). |t| < 2^47: exact.
  const bl = b & 0xffff;
  const bh = b >> 16;
  const t = a * bh + Math.floor((a * bl) / 65536);
  return Math.floor((t + 16384) / 32768);
}

/**
 * gemmlowp's `RoundingDivideByPOT(x, exponent)`: `x / 2^exponent` rounded to nearest,
 * ties away from zero, for int32 `x` and `exponent` in `[0, 31]`.
 *
 * @example
 * ```ts
 * roundingDivideByPOT(5, 1); // 3
 * roundingDivideByPOT(-5, 1); // -3
 * ```
 */
export function roundingDivideByPOT(x: number, exponent: number): number {
  const mask = 2 ** exponent - 1; // <= 2^31 - 1: a valid int32 operand
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * TFLite's `MultiplyByQuantizedMultiplier(x, mult, shift)` (double rounding, see the
 * module doc), with a saturating left shift. `x`, `mult` int32, `shift` in `[-31, 30]`.
 *
 * @example
 * ```ts
 * multiplyByQuantizedMultiplier(100, 1 << 30, 0); // 50
 * ```
 */
export function multiplyByQuantizedMultiplier(x: number, mult: number, shift: number): number {
  if (shift > 0) {
    return saturatingRoundingDoublingHighMul(sat32(x * 2 ** shift), mult);
  }
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(x, mult), -shift);
}

/**
 * The requantization output stage: `clamp(MBQM(acc, mult, shift) + zp, qmin, qmax)`,
 * computed exactly. With the defaults it is just the rescaled int32.
 *
 * @example
 * ```ts
 * const { mult, shift } = quantizeMultiplier(0.25);
 * requantize(-6, mult, shift); // -2 (-1.5 rounds away from zero)
 * requantize(1000, mult, shift, 3, 0, 255); // 253
 * ```
 */
export function requantize(
  acc: number,
  mult: number,
  shift: number,
  zp = 0,
  qmin = INT32_MIN,
  qmax = INT32_MAX,
): number {
  const v = multiplyByQuantizedMultiplier(acc, mult, shift) + zp;
  return v < qmin ? qmin : v > qmax ? qmax : v;
}

/**
 * `frexp` for finite `x > 0`: `[m, e]` with `x = m · 2^e`, `m` in `[0.5, 1)`. Exact for
 * normal numbers (only multiplications by powers of two).
 */
function frexp(x: number): [number, number] {
  let e = Math.floor(Math.log2(x)) + 1;
  let m = x * 2 ** -e;
  while (m >= 1) {
    m /= 2;
    e++;
  }
  while (m < 0.5) {
    m *= 2;
    e--;
  }
  return [m, e];
}

/**
 * TFLite's `QuantizeMultiplier`: encodes `real >= 0` as `mult · 2^(shift − 31)` with
 * `mult = round(frac · 2^31)` (half away from zero), `frac` the frexp mantissa in
 * `[0.5, 1)`; a mantissa that rounds to 2^31 becomes 2^30 with `shift + 1`. Reals below
 * about 2^−32 (shift < −31) encode as `{ mult: 0, shift: 0 }`. Relative error
 * `<= 2^−31`. Throws for negative, non-finite, or too large (`>= 2^30`) multipliers.
 *
 * @example
 * ```ts
 * quantizeMultiplier(0.5); // { mult: 1073741824, shift: 0 }
 * quantizeMultiplier(3); // { mult: 1610612736, shift: 2 }
 * ```
 */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  if (!(real >= 0) || !Number.isFinite(real)) {
    throw new EdgeqError(
      "E_USAGE",
      `a requantization multiplier must be finite and >= 0, got ${real}`,
    );
  }
  if (real < 2 ** -33) return { mult: 0, shift: 0 };
  let [m, e] = frexp(real);
  let q = Math.round(m * 2 ** 31); // m·2^31 is exact; positive, so Math.round = half away
  if (q === 2 ** 31) {
    q /= 2;
    e++;
  }
  if (e < -31) return { mult: 0, shift: 0 };
  if (e > 30) {
    throw new EdgeqError("E_USAGE", `requantization multiplier ${real} is too large (>= 2^30)`);
  }
  return { mult: q, shift: e };
}

/**
 * The real value a quantized multiplier stands for: `mult · 2^(shift − 31)` (exact).
 *
 * @example
 * ```ts
 * multiplierValue({ mult: 1 << 30, shift: 1 }); // 1
 * ```
 */
export function multiplierValue(q: QuantizedMultiplier): number {
  return q.mult * 2 ** (q.shift - 31);
}

/** Left shift applied to both inputs of a quantized add (TFLite's value for 8 bits). */
export const ADD_LEFT_SHIFT = 20;

/** The three multipliers of a quantized add (see {@link quantizedAdd}). */
export interface AddMultipliers {
  /** Input A's multiplier, `sa / T`. */
  a: QuantizedMultiplier;
  /** Input B's multiplier, `sb / T`. */
  b: QuantizedMultiplier;
  /** Output multiplier, `T / (2^20 · sy)`. */
  y: QuantizedMultiplier;
}

/**
 * TFLite's multipliers for `y = a + b` with scales `sa`, `sb`, `sy`: with
 * `T = 2·max(sa, sb)`, input multipliers `sa/T`, `sb/T` (<= 1/2) and output multiplier
 * `T / (2^20 · sy)`.
 *
 * @example
 * ```ts
 * const m = addMultipliers(0.02, 0.01, 0.03); // m.a = quantizeMultiplier(0.5), ...
 * ```
 */
export function addMultipliers(sa: number, sb: number, sy: number): AddMultipliers {
  for (const [n, s] of [["sa", sa], ["sb", sb], ["sy", sy]] as const) {
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new EdgeqError("E_USAGE", `scale ${n} must be finite and > 0, got ${s}`);
    }
  }
  const twiceMax = 2 * Math.max(sa, sb);
  return {
    a: quantizeMultiplier(sa / twiceMax),
    b: quantizeMultiplier(sb / twiceMax),
    y: quantizeMultiplier(twiceMax / (2 ** ADD_LEFT_SHIFT * sy)),
  };
}

/**
 * The integer core of a quantized add (TFLite's scheme), on zero-point-free inputs
 * `da = qa − za`, `db = qb − zb` (each within ±255):
 *
 *     sa  = MBQM(da · 2^20, aMult, aShift)
 *     sb  = MBQM(db · 2^20, bMult, bShift)
 *     sum = sat32(sa + sb)            (never saturates when aShift, bShift <= 0)
 *     y   = clamp(MBQM(sum, yMult, yShift) + yZp, qmin, qmax)
 *
 * @example
 * ```ts
 * const m = addMultipliers(0.1, 0.1, 0.2);
 * quantizedAdd(10, 30, m.a.mult, m.a.shift, m.b.mult, m.b.shift, m.y.mult, m.y.shift, 0, -128, 127); // 20
 * ```
 */
export function quantizedAdd(
  da: number,
  db: number,
  aMult: number,
  aShift: number,
  bMult: number,
  bShift: number,
  yMult: number,
  yShift: number,
  yZp: number,
  qmin: number,
  qmax: number,
): number {
  const sa = multiplyByQuantizedMultiplier(da * (1 << ADD_LEFT_SHIFT), aMult, aShift);
  const sb = multiplyByQuantizedMultiplier(db * (1 << ADD_LEFT_SHIFT), bMult, bShift);
  return requantize(sat32(sa + sb), yMult, yShift, yZp, qmin, qmax);
}

/**
 * Rounds to the nearest integer, ties away from zero (exact for every double).
 *
 * @example
 * ```ts
 * roundHalfAway(-2.5); // -3
 * roundHalfAway(0.49999999999999994); // 0
 * ```
 */
export function roundHalfAway(x: number): number {
  const t = Math.trunc(x);
  const f = x - t; // exact
  return f >= 0.5 ? t + 1 : f <= -0.5 ? t - 1 : t;
}

/**
 * `s / n` for an integer `s` and a positive integer `n` (|s| < 2^52), rounded to nearest
 * with ties away from zero, exactly.
 *
 * @example
 * ```ts
 * divRoundHalfAway(-7, 2); // -4
 * divRoundHalfAway(7, 3); // 2
 * ```
 */
export function divRoundHalfAway(s: number, n: number): number {
  const r = s % n; // exact, sign of s
  const q = (s - r) / n; // exact
  if (2 * r >= n) return q + 1;
  if (2 * r <= -n) return q - 1;
  return q;
}
