/**
 * Exhaustive-ish tests of the fixed-point requantization (kernels/ref/quant/requant.ts)
 * against a wide-integer (BigInt) transcription of the gemmlowp / TFLite C code and
 * against exact rational arithmetic: every shift, edge and random multipliers, int32
 * edge accumulators, 10^6 random samples, the rounding guarantee of the double-rounding
 * scheme, and QuantizeMultiplier's encoding error.
 */
import assert from "node:assert/strict";
import {
  ADD_LEFT_SHIFT,
  addMultipliers,
  divRoundHalfAway,
  INT32_MAX,
  INT32_MIN,
  multiplierValue,
  multiplyByQuantizedMultiplier,
  quantizedAdd,
  quantizeMultiplier,
  requantize,
  roundHalfAway,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
} from "../kernels/ref/quant/requant.ts";
import { EdgeqError } from "../runtime/errors.ts";

// ---------------------------------------------------------------- wide-integer reference

const B31 = 1n << 31n;
const BMIN = -B31, BMAX = B31 - 1n;

/** gemmlowp SaturatingRoundingDoublingHighMul, transcribed with BigInt (`/` truncates like C). */
function srdhmRef(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((ab + nudge) / B31);
}

/** x / 2^e rounded half away from zero, by magnitude and sign (independent of the bit trick). */
function rdbpotRef(x: number, e: number): number {
  const X = BigInt(x), d = 1n << BigInt(e);
  const mag = X < 0n ? -X : X;
  let q = mag / d;
  if (2n * (mag % d) >= d) q++;
  return Number(X < 0n ? -q : q);
}

/** MultiplyByQuantizedMultiplier with a saturating left shift, in BigInt. */
function mbqmRef(x: number, mult: number, shift: number): number {
  const left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  let xs = BigInt(x) << BigInt(left);
  if (xs > BMAX) xs = BMAX;
  if (xs < BMIN) xs = BMIN;
  return rdbpotRef(srdhmRef(Number(xs), mult), right);
}

/** Exact N / D (D > 0) rounded half away from zero. */
function roundBig(n: bigint, d: bigint): bigint {
  const mag = n < 0n ? -n : n;
  let q = mag / d;
  if (2n * (mag % d) >= d) q++;
  return n < 0n ? -q : q;
}

// ---------------------------------------------------------------- random

let state = 0x9e3779b9;
/** xorshift32: a uniform uint32. */
function u32(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}
/** A uniform int32. */
function i32(): number {
  return u32() | 0;
}
/** An int32 of random magnitude: uniform number of bits, then uniform value, random sign. */
function i32Spread(): number {
  const bits = u32() % 32;
  const v = u32() % 2 ** bits;
  return u32() & 1 ? -v : v;
}
/** A uniform integer in [lo, hi]. */
function intIn(lo: number, hi: number): number {
  return lo + (u32() % (hi - lo + 1));
}

const EDGES = [
  INT32_MIN,
  INT32_MIN + 1,
  -(2 ** 30) - 1,
  -(2 ** 30),
  -(2 ** 30) + 1,
  -65537,
  -65536,
  -65535,
  -32768,
  -256,
  -255,
  -129,
  -128,
  -3,
  -2,
  -1,
  0,
  1,
  2,
  3,
  127,
  255,
  256,
  32767,
  65535,
  65536,
  65537,
  2 ** 30 - 1,
  2 ** 30,
  2 ** 30 + 1,
  INT32_MAX - 1,
  INT32_MAX,
];

const MULTS = [
  0,
  1,
  2 ** 30,
  2 ** 30 + 1,
  1518500250, // ~sqrt(1/2)·2^31
  1717986918, // 0.8·2^31
  2 ** 31 - 2,
  2 ** 31 - 1,
];

// ---------------------------------------------------------------- SRDHM / RDBPOT

Deno.test("SRDHM: all pairs of edge values match the BigInt C transcription", () => {
  for (const a of EDGES) {
    for (const b of EDGES) {
      assert.equal(saturatingRoundingDoublingHighMul(a, b), srdhmRef(a, b), `${a}*${b}`);
    }
  }
  assert.equal(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN), INT32_MAX);
  assert.equal(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MAX), -INT32_MAX);
});

Deno.test("SRDHM: ties go toward +infinity", () => {
  assert.equal(saturatingRoundingDoublingHighMul(2 ** 30, 1), 1); // +0.5 -> 1
  assert.equal(saturatingRoundingDoublingHighMul(2 ** 30, -1), 0); // -0.5 -> 0
  assert.equal(saturatingRoundingDoublingHighMul(2 ** 30, -3), -1); // -1.5 -> -1
  assert.equal(saturatingRoundingDoublingHighMul(-(2 ** 30), 5), -2); // -2.5 -> -2
});

Deno.test("SRDHM: 10^6 random pairs (uniform and spread magnitudes)", () => {
  for (let i = 0; i < 1_000_000; i++) {
    const a = i & 1 ? i32() : i32Spread();
    const b = i & 2 ? i32() : i32Spread();
    const got = saturatingRoundingDoublingHighMul(a, b), want = srdhmRef(a, b);
    if (got !== want) assert.fail(`SRDHM(${a}, ${b}) = ${got}, want ${want}`);
  }
});

Deno.test("RDBPOT: every exponent 0..31 on edges and 10^5 random values, ties away from 0", () => {
  for (let e = 0; e <= 31; e++) {
    for (const x of EDGES) assert.equal(roundingDivideByPOT(x, e), rdbpotRef(x, e), `${x}>>${e}`);
    for (let i = 0; i < 3200; i++) {
      const x = i & 1 ? i32() : i32Spread();
      const got = roundingDivideByPOT(x, e), want = rdbpotRef(x, e);
      if (got !== want) assert.fail(`RDBPOT(${x}, ${e}) = ${got}, want ${want}`);
    }
  }
  assert.equal(roundingDivideByPOT(-1, 1), -1);
  assert.equal(roundingDivideByPOT(1, 1), 1);
  assert.equal(roundingDivideByPOT(-3, 1), -2);
  assert.equal(roundingDivideByPOT(INT32_MIN, 31), -1);
  assert.equal(roundingDivideByPOT(INT32_MAX, 31), 1);
});

// ---------------------------------------------------------------- MBQM / requantize

Deno.test("MBQM: every shift -31..30 x edge and random multipliers x edge and random accs", () => {
  let n = 0;
  for (let shift = -31; shift <= 30; shift++) {
    const mults = [...MULTS];
    for (let i = 0; i < 24; i++) mults.push(2 ** 30 + (u32() % 2 ** 30));
    for (const m of mults) {
      const accs = [...EDGES];
      for (let i = 0; i < 40; i++) accs.push(i & 1 ? i32() : i32Spread());
      for (const x of accs) {
        const got = multiplyByQuantizedMultiplier(x, m, shift), want = mbqmRef(x, m, shift);
        if (got !== want) assert.fail(`MBQM(${x}, ${m}, ${shift}) = ${got}, want ${want}`);
        n++;
      }
    }
  }
  assert.ok(n > 100_000);
});

Deno.test("MBQM: 10^6 random (acc, mult, shift) samples", () => {
  for (let i = 0; i < 1_000_000; i++) {
    const x = i & 1 ? i32() : i32Spread();
    const m = i % 7 === 0 ? u32() % 2 ** 31 : 2 ** 30 + (u32() % 2 ** 30);
    const shift = intIn(-31, 30);
    const got = multiplyByQuantizedMultiplier(x, m, shift), want = mbqmRef(x, m, shift);
    if (got !== want) assert.fail(`MBQM(${x}, ${m}, ${shift}) = ${got}, want ${want}`);
  }
});

Deno.test("MBQM: within 1/2 + 2^-(R+1) of the exact product, correctly rounded off ties", () => {
  // exact = acc·mult / 2^(31+R) = N / D. The two roundings are off by at most
  // 1/2 (final) + 2^-(R+1) (SRDHM's half unit, divided by 2^R); the result is the
  // half-away-from-zero rounding of the exact value unless that value lies within
  // 2^-(R+1) of a half-integer.
  let exactCount = 0, nearTie = 0;
  for (let i = 0; i < 300_000; i++) {
    const x = i & 1 ? i32() : i32Spread();
    const m = 2 ** 30 + (u32() % 2 ** 30);
    const shift = -intIn(0, 31), R = BigInt(-shift);
    const got = BigInt(multiplyByQuantizedMultiplier(x, m, shift));
    const N = BigInt(x) * BigInt(m), D = 1n << (31n + R);
    const err = got * D - N;
    if ((err < 0n ? -err : err) > D / 2n + (1n << 30n)) assert.fail(`MBQM(${x},${m},${shift})`);
    const f = ((N % D) + D) % D; // floor-mod, N/D = k + f/D
    const dist = f - D / 2n;
    if ((dist < 0n ? -dist : dist) > 1n << 30n) {
      exactCount++;
      if (got !== roundBig(N, D)) assert.fail(`MBQM(${x},${m},${shift}) is not correctly rounded`);
    } else nearTie++;
  }
  assert.ok(exactCount > 250_000 && nearTie > 0, `${exactCount} ${nearTie}`);
  // Positive shifts (no saturation): a single rounding, SRDHM's (nearest, ties up).
  for (let i = 0; i < 100_000; i++) {
    const shift = intIn(1, 30);
    const lim = 2 ** (31 - shift);
    const x = intIn(-lim, lim - 1), m = 2 ** 30 + (u32() % 2 ** 30);
    const N = (BigInt(x) << BigInt(shift)) * BigInt(m);
    const want = (N + (1n << 30n)) >> 31n; // floor((N + 2^30) / 2^31)
    assert.equal(BigInt(multiplyByQuantizedMultiplier(x, m, shift)), want);
  }
});

Deno.test("MBQM: left shifts saturate before the multiply", () => {
  const m = 2 ** 30; // 0.5
  assert.equal(multiplyByQuantizedMultiplier(2 ** 30, m, 2), srdhmRef(INT32_MAX, m));
  assert.equal(multiplyByQuantizedMultiplier(-(2 ** 30), m, 3), -(2 ** 30));
  assert.equal(multiplyByQuantizedMultiplier(INT32_MIN, INT32_MAX, 30), -INT32_MAX);
});

Deno.test("requantize: zero point and clamp are applied exactly, no int32 wrap", () => {
  const { mult, shift } = quantizeMultiplier(0.25);
  assert.equal(requantize(-6, mult, shift), -2);
  assert.equal(requantize(1000, mult, shift, 3, 0, 255), 253);
  assert.equal(requantize(1000, mult, shift, 3, -128, 127), 127);
  assert.equal(requantize(-1000, mult, shift, 3, -128, 127), -128);
  // MBQM(INT32_MAX·1, 2^31-1, 0) = INT32_MAX - 1; + zp 200 would wrap in int32
  assert.equal(requantize(INT32_MAX, INT32_MAX, 0, 200, 0, 255), 255);
  for (let i = 0; i < 200_000; i++) {
    const x = i32Spread(), m = 2 ** 30 + (u32() % 2 ** 30), s = intIn(-31, 30);
    const zp = intIn(-128, 255), lo = intIn(-128, 0), hi = intIn(0, 255);
    const v = mbqmRef(x, m, s) + zp;
    const want = Math.min(Math.max(v, lo), hi);
    if (requantize(x, m, s, zp, lo, hi) !== want) assert.fail(`requantize(${x},${m},${s})`);
  }
});

// ---------------------------------------------------------------- QuantizeMultiplier

function checkEncoding(real: number): void {
  const q = quantizeMultiplier(real);
  assert.ok(Number.isInteger(q.mult) && Number.isInteger(q.shift), `${real}`);
  assert.ok(q.mult >= 2 ** 30 && q.mult < 2 ** 31, `mult ${q.mult} for ${real}`);
  assert.ok(q.shift >= -31 && q.shift <= 30, `shift ${q.shift} for ${real}`);
  const rel = Math.abs(multiplierValue(q) - real) / real;
  assert.ok(rel <= 2 ** -31, `${real}: relative error ${rel}`);
  // The mantissa is the nearest Q31 value at that exponent (ties away from zero).
  const scaled = real * 2 ** (31 - q.shift); // exact (power-of-two scaling)
  assert.ok(Math.abs(q.mult - scaled) <= 0.5, `${real}: ${q.mult} vs ${scaled}`);
}

Deno.test("quantizeMultiplier: encoding error < 2^-30 relative over 2^-31..2^29", () => {
  for (let e = -31; e < 30; e++) {
    checkEncoding(2 ** e);
    checkEncoding(2 ** e * 0.75);
    checkEncoding(2 ** e * (1 - 2 ** -40)); // mantissa rounds to 2^31: bumps the exponent
    checkEncoding(2 ** e * (1 + 2 ** -40));
  }
  for (let i = 0; i < 100_000; i++) checkEncoding(2 ** (-31 + 60 * (u32() / 2 ** 32)));
  assert.deepEqual(quantizeMultiplier(1), { mult: 2 ** 30, shift: 1 });
  assert.deepEqual(quantizeMultiplier(0.5), { mult: 2 ** 30, shift: 0 });
  assert.deepEqual(quantizeMultiplier(1 - 2 ** -40), { mult: 2 ** 30, shift: 1 });
  assert.deepEqual(quantizeMultiplier(3), { mult: 1610612736, shift: 2 });
  // round(0.75·2^31 + 0.5) half away from zero
  assert.deepEqual(quantizeMultiplier(0.75 + 2 ** -32), { mult: 1610612737, shift: 0 });
});

Deno.test("quantizeMultiplier: zero, underflow and bad values", () => {
  assert.deepEqual(quantizeMultiplier(0), { mult: 0, shift: 0 });
  assert.deepEqual(quantizeMultiplier(2 ** -40), { mult: 0, shift: 0 });
  assert.deepEqual(quantizeMultiplier(2 ** -33), { mult: 0, shift: 0 });
  assert.deepEqual(quantizeMultiplier(2 ** -32 * (1 - 2 ** -40)), { mult: 2 ** 30, shift: -31 });
  for (const bad of [-1, NaN, Infinity, 2 ** 30]) {
    assert.throws(() => quantizeMultiplier(bad), EdgeqError, `${bad}`);
  }
});

Deno.test("requantize with quantizeMultiplier ~ round(acc·real), |diff| <= 1", () => {
  for (let i = 0; i < 200_000; i++) {
    const real = 2 ** (-20 + 24 * (u32() / 2 ** 32)); // 2^-20 .. 2^4
    const q = quantizeMultiplier(real);
    const lim = Math.min(2 ** 31 - 1, Math.floor(2 ** 30 / real));
    const acc = intIn(-lim, lim);
    const got = requantize(acc, q.mult, q.shift);
    const want = roundHalfAway(acc * real);
    if (Math.abs(got - want) > 1) assert.fail(`requantize(${acc}, ${real}): ${got} vs ${want}`);
  }
});

// ---------------------------------------------------------------- add scheme, rounding helpers

Deno.test("quantizedAdd: BigInt composition and float agreement, all 8-bit input pairs", () => {
  const cases: [number, number, number][] = [[0.02, 0.01, 0.03], [0.1, 0.1, 0.2], [
    0.0123,
    0.0471,
    0.0077,
  ]];
  for (const [sa, sb, sy] of cases) {
    const m = addMultipliers(sa, sb, sy);
    const zp = -7, lo = -128, hi = 127;
    for (let da = -255; da <= 255; da++) {
      for (let db = -255; db <= 255; db += 1 + (da & 3)) {
        const got = quantizedAdd(
          da,
          db,
          m.a.mult,
          m.a.shift,
          m.b.mult,
          m.b.shift,
          m.y.mult,
          m.y.shift,
          zp,
          lo,
          hi,
        );
        const sum = mbqmRef(da * 2 ** ADD_LEFT_SHIFT, m.a.mult, m.a.shift) +
          mbqmRef(db * 2 ** ADD_LEFT_SHIFT, m.b.mult, m.b.shift);
        const ref = Math.min(Math.max(mbqmRef(sum, m.y.mult, m.y.shift) + zp, lo), hi);
        if (got !== ref) assert.fail(`add(${da}, ${db}) = ${got}, want ${ref}`);
        const fl = Math.min(Math.max(roundHalfAway((sa * da + sb * db) / sy) + zp, lo), hi);
        if (Math.abs(got - fl) > 1) assert.fail(`add(${da}, ${db}) = ${got}, float ${fl}`);
      }
    }
  }
  assert.throws(() => addMultipliers(0, 1, 1), EdgeqError);
});

Deno.test("roundHalfAway and divRoundHalfAway are exact", () => {
  assert.equal(roundHalfAway(2.5), 3);
  assert.equal(roundHalfAway(-2.5), -3);
  assert.equal(roundHalfAway(0.49999999999999994), 0);
  assert.equal(roundHalfAway(-0.49999999999999994), -0);
  assert.equal(roundHalfAway(2 ** 52 + 1), 2 ** 52 + 1);
  for (let i = 0; i < 200_000; i++) {
    const s = i32Spread() * (i & 1 ? 1 : 1024), n = intIn(1, i & 2 ? 9 : 70000);
    const want = Number(roundBig(BigInt(s), BigInt(n)));
    if (divRoundHalfAway(s, n) !== want) assert.fail(`divRoundHalfAway(${s}, ${n})`);
  }
});

// ------------------------------------------- the wasm stages' one-step form (mbqmU4)

/**
 * kernels/wasm/as/requant.ts mbqmU4, lane by lane in BigInt, as the SIMD ops compute it:
 * a2 = a + 2^31 as u32 (a wrapping i32 add), m2 = 2m as u32, the u64 product plus
 * k = 2^31 + (2^(r−1) − 1 − m)·2^32 modulo 2^64, its high word as i32, minus the sign
 * mask of a2 (as i32), then an arithmetic shift by r.
 */
function mbqmU4Lane(a: number, m: number, r: number): number {
  const M64 = (1n << 64n) - 1n;
  const a2 = (BigInt(a) + B31) & 0xffffffffn, m2 = BigInt(2 * m) & 0xffffffffn;
  const k = (B31 + (((1n << BigInt(r - 1)) - 1n - BigInt(m)) << 32n)) & M64;
  const x = (a2 * m2 + k) & M64;
  const hw = BigInt.asIntN(32, x >> 32n), sign = BigInt.asIntN(32, a2) < 0n ? -1n : 0n;
  return Number(BigInt.asIntN(32, hw - sign) >> BigInt(r));
}

Deno.test("mbqmU4 (the wasm output stages' SRDHM + RDBPOT in one step) = MBQM for |a| + 2^(r-1) < 2^31", () => {
  let n = 0;
  const check = (a: number, m: number, r: number) => {
    n++;
    const got = mbqmU4Lane(a, m, r), want = mbqmRef(a, m, -r);
    if (got !== want) assert.fail(`mbqmU4(${a}, ${m}, r ${r}) = ${got}, want ${want}`);
  };
  for (let r = 1; r <= 31; r++) {
    const amax = 2 ** 31 - 2 ** (r - 1) - 1; // the bound the kernels guarantee
    for (const m of [0, 1, 2 ** 30, 2 ** 30 + 1, 2 ** 31 - 1, ...MULTS.filter((v) => v >= 0)]) {
      for (const a of [0, 1, -1, 2, -2, amax, -amax, amax - 1, -amax + 1, 3 << 28, -(3 << 28)]) {
        if (Math.abs(a) <= amax) check(a, m, r);
      }
      // RDBPOT ties, both signs: with m = 2^30, SRDHM(a) = floor((a + 1) / 2), so a = 2h and
      // a = 2h − 1 give h, and h = q·2^r ± 2^(r−1) is a tie
      if (m === 2 ** 30) {
        for (let q = -40; q <= 40; q++) {
          for (const h of [q * 2 ** r + 2 ** (r - 1), q * 2 ** r - 2 ** (r - 1)]) {
            for (const a of [2 * h, 2 * h - 1, 2 * h + 1]) if (Math.abs(a) <= amax) check(a, m, r);
          }
        }
      }
    }
    for (let i = 0; i < 4000; i++) {
      const a = Math.trunc(i32Spread() / 2) % (amax + 1), m = u32() >>> 1;
      check(a, m, r);
    }
  }
  assert.ok(n > 100000, `only ${n} cases`);
});
