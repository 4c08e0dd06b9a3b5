/**
 * Tests of the integer-only reference ops (kernels/ref/quant) against independent naive
 * formulations: direct loops for the sums, a BigInt transcription of the gemmlowp
 * requantization, exact BigInt rounding for the pools; plus the "dequantize → float op →
 * quantize" consistency check (|int − round(float / y_scale) − y_zp| <= 1) for conv, gemm,
 * matmul and add. Random non-zero data, odd shapes, int8 and uint8 activations. Every run
 * also checks that `infer` agrees with `run`.
 */
import assert from "node:assert/strict";
import { QUANT_OPS } from "../kernels/ref/quant/mod.ts";
import {
  addMultipliers,
  INT32_MAX,
  INT32_MIN,
  quantizeMultiplier,
  roundHalfAway,
} from "../kernels/ref/quant/requant.ts";
import type { OpContext } from "../kernels/ref/op.ts";
import type { Attrs } from "../runtime/graph.ts";
import { EdgeqError } from "../runtime/errors.ts";
import type { Tensor } from "../runtime/tensor.ts";

type Q = "int8" | "uint8";

// ---------------------------------------------------------------- harness

function ctxOf(op: string, attrs: Attrs): OpContext {
  return { node: { name: "t", op, domain: "edgeq", inputs: [], outputs: ["y"], attrs }, opset: 17 };
}

/** Runs a quantized op, checking that infer agrees with run. */
function runOp(op: string, ins: (Tensor | undefined)[], attrs: Attrs): Tensor {
  const def = QUANT_OPS[op];
  const ctx = ctxOf(op, attrs);
  const metas = ins.map((t) => t && { dtype: t.dtype, shape: [...t.shape] });
  const [meta] = def.infer(metas, attrs, [], ctx);
  const [y] = def.run(ins, attrs, ctx);
  assert.deepEqual({ dtype: y.dtype, shape: y.shape }, meta);
  assert.equal(y.data.length, y.shape.reduce((a, b) => a * b, 1));
  return y;
}

let state = 0x2545f491;
function u32(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}
function intIn(lo: number, hi: number): number {
  return lo + (u32() % (hi - lo + 1));
}
function uniform(lo: number, hi: number): number {
  return lo + (hi - lo) * (u32() / 2 ** 32);
}
function prod(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/** Random 8-bit data over the whole range. */
function randQ(dtype: Q, shape: number[]): Tensor {
  const n = prod(shape);
  const data = dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  const [lo, hi] = dtype === "int8" ? [-128, 127] : [0, 255];
  for (let i = 0; i < n; i++) data[i] = intIn(lo, hi);
  return { dtype, shape, data };
}
/** Random int8 weights in [-127, 127], never 0. */
function randW(shape: number[]): Tensor {
  const data = new Int8Array(prod(shape));
  for (let i = 0; i < data.length; i++) data[i] = (u32() & 1 ? 1 : -1) * intIn(1, 127);
  return { dtype: "int8", shape, data };
}
function randBias(n: number, mag: number): Tensor {
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = intIn(-mag, mag);
  return { dtype: "int32", shape: [n], data };
}
function range(dt: Q): [number, number] {
  return dt === "int8" ? [-128, 127] : [0, 255];
}
function zpFor(dt: Q): number {
  return dt === "int8" ? intIn(-20, 20) : intIn(100, 140);
}

// ---------------------------------------------------------------- BigInt requantization

const B31 = 1n << 31n;
/** gemmlowp SRDHM + RDBPOT (+ saturating left shift), transcribed with BigInt. */
function mbqmRef(x: number, mult: number, shift: number): number {
  const left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  let xs = BigInt(x) << BigInt(left);
  if (xs >= B31) xs = B31 - 1n;
  if (xs < -B31) xs = -B31;
  let h: bigint;
  if (xs === -B31 && mult === INT32_MIN) h = B31 - 1n;
  else {
    const ab = xs * BigInt(mult);
    h = (ab + (ab >= 0n ? 1n << 30n : 1n - (1n << 30n))) / B31;
  }
  return Number(roundBig(h, 1n << BigInt(right)));
}
function roundBig(n: bigint, d: bigint): bigint {
  const mag = n < 0n ? -n : n;
  let q = mag / d;
  if (2n * (mag % d) >= d) q++;
  return n < 0n ? -q : q;
}
function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}
function sat(v: number): number {
  return clamp(v, INT32_MIN, INT32_MAX);
}
function outRef(acc: number, mult: number, shift: number, zp: number, lo: number, hi: number) {
  return clamp(mbqmRef(acc, mult, shift) + zp, lo, hi);
}
function addRef(
  da: number,
  db: number,
  m: ReturnType<typeof addMultipliers>,
  zp: number,
  lo: number,
  hi: number,
): number {
  const s = mbqmRef(da * 2 ** 20, m.a.mult, m.a.shift) + mbqmRef(db * 2 ** 20, m.b.mult, m.b.shift);
  return outRef(sat(s), m.y.mult, m.y.shift, zp, lo, hi);
}

// ---------------------------------------------------------------- QConv

interface ConvCase {
  name: string;
  n: number;
  c: number;
  /** Spatial input size: [H, W] or [W] for 1-D. */
  size: number[];
  m: number;
  kernel: number[];
  pads?: number[];
  strides?: number[];
  dilations?: number[];
  group?: number;
  xdt: Q;
  ydt: Q;
  bias?: boolean;
  perTensor?: boolean;
  relu?: boolean;
  residual?: Q;
}

/** Naive direct convolution of (x − zp) with w (+ b): the int32 accumulators, as float64. */
function convAccRef(
  x: Tensor,
  xzp: number,
  w: Tensor,
  b: Tensor | undefined,
  cs: ConvCase,
): { acc: Float64Array; shape: number[] } {
  const is2d = cs.size.length === 2;
  const [H, W] = is2d ? cs.size : [1, cs.size[0]];
  const [kh, kw] = is2d ? cs.kernel : [1, cs.kernel[0]];
  const sp = cs.size.length;
  const pads = cs.pads ?? new Array(2 * sp).fill(0);
  const [pt, pl, pb, pr] = is2d ? pads : [0, pads[0], 0, pads[1]];
  const [sh, sw] = is2d ? (cs.strides ?? [1, 1]) : [1, (cs.strides ?? [1])[0]];
  const [dh, dw] = is2d ? (cs.dilations ?? [1, 1]) : [1, (cs.dilations ?? [1])[0]];
  const g = cs.group ?? 1, cg = cs.c / g, mg = cs.m / g;
  const oh = Math.floor((H + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
  const ow = Math.floor((W + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
  const acc = new Float64Array(cs.n * cs.m * oh * ow);
  for (let n = 0; n < cs.n; n++) {
    for (let m = 0; m < cs.m; m++) {
      const gi = Math.floor(m / mg);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let s = 0;
          for (let c = 0; c < cg; c++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * sh + ky * dh - pt, ix = ox * sw + kx * dw - pl;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const xv = x.data[((n * cs.c + gi * cg + c) * H + iy) * W + ix] - xzp;
                s += xv * w.data[((m * cg + c) * kh + ky) * kw + kx];
              }
            }
          }
          acc[((n * cs.m + m) * oh + oy) * ow + ox] = sat(s + (b ? b.data[m] : 0));
        }
      }
    }
  }
  return { acc, shape: is2d ? [cs.n, cs.m, oh, ow] : [cs.n, cs.m, ow] };
}

function checkConv(cs: ConvCase): void {
  const g = cs.group ?? 1;
  const x = randQ(cs.xdt, [cs.n, cs.c, ...cs.size]);
  const w = randW([cs.m, cs.c / g, ...cs.kernel]);
  const xzp = zpFor(cs.xdt), yzp = zpFor(cs.ydt);
  const sx = uniform(0.01, 0.05);
  const sw = Array.from({ length: cs.m }, () => uniform(0.002, 0.02));
  const b = cs.bias === false ? undefined : randBias(cs.m, 3000);
  const { acc, shape } = convAccRef(x, xzp, w, b, cs);
  const P = prod(shape.slice(2));
  // Output scale: the float outputs span about ±110 steps.
  let maxAbs = 0;
  for (let i = 0; i < acc.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(acc[i] * sx * sw[Math.floor(i / P) % cs.m]));
  }
  const sy = maxAbs / 110;
  if (cs.perTensor) sw.fill(sw[0]);
  const qm = sw.map((s) => quantizeMultiplier((sx * s) / sy));
  const [lo, hi] = range(cs.ydt);
  const qmin = cs.relu ? Math.max(yzp, lo) : lo;
  const attrs: Attrs = {
    kernel_shape: cs.kernel,
    x_zp: xzp,
    mult: cs.perTensor ? [qm[0].mult] : qm.map((q) => q.mult),
    shift: cs.perTensor ? qm[0].shift : qm.map((q) => q.shift),
    y_zp: yzp,
    dtype: cs.ydt,
  };
  if (cs.pads) attrs.pads = cs.pads;
  if (cs.strides) attrs.strides = cs.strides;
  if (cs.dilations) attrs.dilations = cs.dilations;
  if (cs.group) attrs.group = cs.group;
  if (cs.relu) attrs.qmin = qmin;
  const y = runOp("QConv", [x, w, b], attrs);
  assert.deepEqual(y.shape, shape, cs.name);
  assert.equal(y.dtype, cs.ydt);
  let clampedLow = 0;
  for (let i = 0; i < acc.length; i++) {
    const m = Math.floor(i / P) % cs.m;
    const want = outRef(acc[i], qm[m].mult, qm[m].shift, yzp, qmin, hi);
    if (y.data[i] !== want) assert.fail(`${cs.name}: y[${i}] = ${y.data[i]}, want ${want}`);
    // dequantize -> float conv -> quantize: acc·sx·sw is the float conv of the
    // dequantized operands (bias = b·sx·sw), exactly.
    const fl = clamp(roundHalfAway((acc[i] * sx * sw[m]) / sy) + yzp, qmin, hi);
    if (Math.abs(y.data[i] - fl) > 1) {
      assert.fail(`${cs.name}: y[${i}] ${y.data[i]} vs float ${fl}`);
    }
    if (y.data[i] === qmin) clampedLow++;
  }
  assert.ok(clampedLow < acc.length, `${cs.name}: everything clamped`);
  if (cs.residual) checkResidual(cs, x, w, b, attrs, acc, sx, sw, sy);
}

/** Fused residual == QConv then QAdd, bit for bit; and close to the float result. */
function checkResidual(
  cs: ConvCase,
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  convAttrs: Attrs,
  acc: Float64Array,
  sx: number,
  sw: number[],
  sc: number,
): void {
  const rdt = cs.residual!;
  const yShape = runOp("QConv", [x, w, b], convAttrs).shape;
  const r = randQ(rdt, yShape);
  const rzp = zpFor(rdt), czp = convAttrs.y_zp as number;
  const sr = uniform(0.5, 2) * sc, sy = (sc + sr) * uniform(0.6, 1.2);
  const m = addMultipliers(sc, sr, sy);
  const yzp = zpFor(cs.ydt);
  const [lo, hi] = range(cs.ydt);
  const qmin = yzp; // ReLU after the add
  const fused = runOp("QConv", [x, w, b, r], {
    ...convAttrs,
    qmin,
    c_zp: czp,
    c_mult: m.a.mult,
    c_shift: m.a.shift,
    r_zp: rzp,
    r_mult: m.b.mult,
    r_shift: m.b.shift,
    y_mult: m.y.mult,
    y_shift: m.y.shift,
    y_zp: yzp,
  });
  const c = runOp("QConv", [x, w, b], { ...convAttrs, qmin: lo, qmax: hi });
  const unfused = runOp("QAdd", [c, r], {
    a_zp: czp,
    b_zp: rzp,
    y_zp: yzp,
    a_mult: m.a.mult,
    a_shift: m.a.shift,
    b_mult: m.b.mult,
    b_shift: m.b.shift,
    y_mult: m.y.mult,
    y_shift: m.y.shift,
    dtype: cs.ydt,
    qmin,
  });
  assert.deepEqual(fused, unfused, `${cs.name}: fused residual differs from QConv + QAdd`);
  const P = prod(yShape.slice(2));
  for (let i = 0; i < acc.length; i++) {
    const ch = Math.floor(i / P) % cs.m;
    const want = addRef(c.data[i] - czp, r.data[i] - rzp, m, yzp, qmin, hi);
    if (fused.data[i] !== want) assert.fail(`${cs.name} residual: y[${i}]`);
    // float: conv (unclamped, in C's range by construction) + residual
    const cf = acc[i] * sx * sw[ch], rf = sr * (r.data[i] - rzp);
    const real = (cf + rf) / sy + yzp;
    if (real < qmin - 1 || real > hi + 1) continue;
    const err = Math.abs(fused.data[i] - clamp(real, qmin, hi));
    if (err > 0.5 + sc / sy + 1e-3) assert.fail(`${cs.name} residual: y[${i}] error ${err}`);
  }
}

const CONV_CASES: ConvCase[] = [
  {
    name: "C1->3 3x3 pad1 stride2",
    n: 2,
    c: 1,
    size: [5, 7],
    m: 3,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [2, 2],
    xdt: "uint8",
    ydt: "int8",
  },
  {
    name: "C3->5 3x3 dilation2",
    n: 1,
    c: 3,
    size: [9, 8],
    m: 5,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    dilations: [2, 2],
    xdt: "int8",
    ydt: "int8",
    relu: true,
  },
  {
    name: "depthwise C17 3x3 pad1 stride2",
    n: 2,
    c: 17,
    size: [7, 7],
    m: 17,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [2, 2],
    group: 17,
    xdt: "uint8",
    ydt: "uint8",
  },
  {
    name: "pointwise C5->67 K=5",
    n: 1,
    c: 5,
    size: [3, 4],
    m: 67,
    kernel: [1, 1],
    xdt: "int8",
    ydt: "uint8",
    bias: false,
  },
  {
    name: "C67->5 asymmetric pads strides [2,1]",
    n: 1,
    c: 67,
    size: [6, 5],
    m: 5,
    kernel: [3, 2],
    pads: [0, 1, 1, 0],
    strides: [2, 1],
    xdt: "uint8",
    ydt: "int8",
    perTensor: true,
  },
  {
    name: "grouped C6->9 group3",
    n: 3,
    c: 6,
    size: [5, 5],
    m: 9,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    group: 3,
    xdt: "int8",
    ydt: "int8",
  },
  {
    name: "K=1 (C1->1 1x1)",
    n: 1,
    c: 1,
    size: [4, 3],
    m: 1,
    kernel: [1, 1],
    xdt: "uint8",
    ydt: "uint8",
  },
  {
    name: "1-D C5->3 k3 pad1 stride2",
    n: 2,
    c: 5,
    size: [11],
    m: 3,
    kernel: [3],
    pads: [1, 1],
    strides: [2],
    xdt: "int8",
    ydt: "int8",
  },
  {
    name: "residual C16->16 3x3 (int8)",
    n: 2,
    c: 16,
    size: [7, 7],
    m: 16,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    xdt: "int8",
    ydt: "int8",
    residual: "int8",
  },
  {
    name: "residual C3->5 stride2 (uint8, int8 shortcut)",
    n: 1,
    c: 3,
    size: [8, 9],
    m: 5,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [2, 2],
    xdt: "uint8",
    ydt: "uint8",
    residual: "int8",
  },
];

for (const cs of CONV_CASES) Deno.test(`QConv: ${cs.name}`, () => checkConv(cs));

Deno.test("QConv: 40 random geometries (kernels, pads, strides, dilations, groups, dtypes)", () => {
  for (let t = 0; t < 40; t++) {
    const group = [1, 1, 2, 3][intIn(0, 3)];
    const c = group * [1, 3, 5][intIn(0, 2)], m = group * [1, 2, 5][intIn(0, 2)];
    const kernel = [intIn(1, 3), intIn(1, 3)], dilations = [intIn(1, 2), intIn(1, 2)];
    const size = [intIn(5, 9), intIn(5, 9)];
    const pads = [intIn(0, 2), intIn(0, 2), intIn(0, 2), intIn(0, 2)];
    const strides = [intIn(1, 3), intIn(1, 3)];
    const dts: Q[] = ["int8", "uint8"];
    checkConv({
      name: `random #${t}`,
      n: intIn(1, 2),
      c,
      size,
      m,
      kernel,
      pads,
      strides,
      dilations,
      group,
      xdt: dts[intIn(0, 1)],
      ydt: dts[intIn(0, 1)],
      bias: t % 3 !== 0,
      relu: t % 4 === 0,
      perTensor: t % 5 === 0,
    });
  }
});

Deno.test("QConv: rejects bad inputs with EdgeqError", () => {
  const x = randQ("int8", [1, 3, 5, 5]), w = randW([4, 3, 3, 3]);
  const ok: Attrs = { mult: 2 ** 30, shift: -5 };
  const uw: Tensor = { dtype: "uint8", shape: w.shape, data: new Uint8Array(w.data.length) };
  const bad: [string, (Tensor | undefined)[], Attrs][] = [
    ["uint8 weights", [x, uw], ok],
    ["mult too large", [x, w], { mult: 2 ** 31, shift: 0 }],
    ["shift out of range", [x, w], { mult: 2 ** 30, shift: -32 }],
    ["mult list length", [x, w], { mult: [1, 2], shift: 0 }],
    ["missing mult", [x, w], { shift: 0 }],
    ["qmin > qmax", [x, w], { ...ok, qmin: 5, qmax: 4 }],
    ["zp out of range", [x, w], { ...ok, x_zp: 200 }],
    ["bias dtype", [x, w, randQ("int8", [4])], ok],
    ["residual shape", [x, w, undefined, randQ("int8", [1, 4, 5, 5])], {
      ...ok,
      c_mult: 1,
      c_shift: 0,
      r_mult: 1,
      r_shift: 0,
      y_mult: 1,
      y_shift: 0,
    }],
    ["residual attrs", [x, w, undefined, randQ("int8", [1, 4, 3, 3])], ok],
  ];
  for (const [what, ins, attrs] of bad) {
    assert.throws(
      () => {
        const ctx = ctxOf("QConv", attrs);
        QUANT_OPS.QConv.infer(
          ins.map((t) => t && { dtype: t.dtype, shape: t.shape }),
          attrs,
          [],
          ctx,
        );
        QUANT_OPS.QConv.run(ins, attrs, ctx);
      },
      EdgeqError,
      what,
    );
  }
  const big = { dtype: "int8" as const, shape: [1, 65537, 1, 1] };
  assert.throws(
    () =>
      QUANT_OPS.QConv.infer(
        [{ dtype: "int8", shape: [1, 65537, 1, 1] }, big],
        ok,
        [],
        ctxOf("QConv", ok),
      ),
    EdgeqError,
  );
});

// ---------------------------------------------------------------- QGemm

function checkGemm(lead: number[], k: number, n: number, xdt: Q, ydt: Q, bias: boolean): void {
  const x = randQ(xdt, [...lead, k]), w = randW([n, k]);
  const rows = prod(lead);
  const xzp = zpFor(xdt), yzp = zpFor(ydt);
  const sx = uniform(0.01, 0.05), sw = Array.from({ length: n }, () => uniform(0.002, 0.02));
  const b = bias ? randBias(n, 5000) : undefined;
  const acc = new Float64Array(rows * n);
  let maxAbs = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b.data[j] : 0;
      for (let p = 0; p < k; p++) s += (x.data[r * k + p] - xzp) * w.data[j * k + p];
      acc[r * n + j] = s;
      maxAbs = Math.max(maxAbs, Math.abs(s * sx * sw[j]));
    }
  }
  const sy = maxAbs / 110;
  const qm = sw.map((s) => quantizeMultiplier((sx * s) / sy));
  const y = runOp("QGemm", [x, w, b], {
    x_zp: xzp,
    y_zp: yzp,
    mult: qm.map((q) => q.mult),
    shift: qm.map((q) => q.shift),
    dtype: ydt,
  });
  assert.deepEqual(y.shape, [...lead, n]);
  const [lo, hi] = range(ydt);
  for (let i = 0; i < acc.length; i++) {
    const j = i % n;
    const want = outRef(acc[i], qm[j].mult, qm[j].shift, yzp, lo, hi);
    if (y.data[i] !== want) assert.fail(`QGemm y[${i}] = ${y.data[i]}, want ${want}`);
    const fl = clamp(roundHalfAway((acc[i] * sx * sw[j]) / sy) + yzp, lo, hi);
    if (Math.abs(y.data[i] - fl) > 1) assert.fail(`QGemm y[${i}] vs float ${fl}`);
  }
}

Deno.test("QGemm: odd M, N, K (incl. K=1), rank-3 input, uint8/int8, with/without bias", () => {
  checkGemm([7], 13, 5, "uint8", "int8", true);
  checkGemm([1], 1, 3, "int8", "int8", true);
  checkGemm([3], 67, 17, "int8", "uint8", false);
  checkGemm([2, 5], 9, 11, "uint8", "uint8", true);
  checkGemm([50], 64, 10, "int8", "int8", true);
});

// ---------------------------------------------------------------- QMatMul

function checkMatMul(as: number[], bs: number[], adt: Q, bdt: Q, ydt: Q): void {
  const a = randQ(adt, as), b = randQ(bdt, bs);
  const azp = zpFor(adt), bzp = zpFor(bdt), yzp = zpFor(ydt);
  const [m, k] = as.slice(-2), n = bs[bs.length - 1];
  const ab = as.slice(0, -2), bb = bs.slice(0, -2);
  const rank = Math.max(ab.length, bb.length);
  const pa = [...new Array(rank - ab.length).fill(1), ...ab];
  const pb = [...new Array(rank - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  const nb = prod(batch);
  const acc = new Float64Array(nb * m * n);
  const sa = uniform(0.01, 0.05), sb = uniform(0.01, 0.05);
  let maxAbs = 0;
  for (let t = 0; t < nb; t++) {
    // batch coordinate -> flat batch index in A and B (dims of size 1 broadcast)
    let rem = t, ia = 0, ib = 0, stA = 1, stB = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
      ia += (pa[d] === 1 ? 0 : c) * stA;
      ib += (pb[d] === 1 ? 0 : c) * stB;
      stA *= pa[d];
      stB *= pb[d];
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          s += (a.data[(ia * m + i) * k + p] - azp) * (b.data[(ib * k + p) * n + j] - bzp);
        }
        acc[(t * m + i) * n + j] = s;
        maxAbs = Math.max(maxAbs, Math.abs(s * sa * sb));
      }
    }
  }
  const sy = maxAbs / 100;
  const q = quantizeMultiplier((sa * sb) / sy);
  const y = runOp("QMatMul", [a, b], {
    a_zp: azp,
    b_zp: bzp,
    y_zp: yzp,
    mult: q.mult,
    shift: q.shift,
    dtype: ydt,
  });
  assert.deepEqual(y.shape, [...batch, m, n]);
  const [lo, hi] = range(ydt);
  for (let i = 0; i < acc.length; i++) {
    const want = outRef(acc[i], q.mult, q.shift, yzp, lo, hi);
    if (y.data[i] !== want) assert.fail(`QMatMul y[${i}] = ${y.data[i]}, want ${want}`);
    const fl = clamp(roundHalfAway((acc[i] * sa * sb) / sy) + yzp, lo, hi);
    if (Math.abs(y.data[i] - fl) > 1) assert.fail(`QMatMul y[${i}] vs float ${fl}`);
  }
}

Deno.test("QMatMul: batched with broadcasting, odd sizes, mixed int8/uint8", () => {
  checkMatMul([2, 3, 5, 8], [3, 8, 7], "int8", "int8", "int8");
  checkMatMul([4, 6], [6, 1], "uint8", "int8", "uint8");
  checkMatMul([1, 3, 1], [2, 1, 1, 5], "int8", "uint8", "int8");
  checkMatMul([2, 17, 1], [1, 1, 13], "uint8", "uint8", "int8"); // K = 1
});

// ---------------------------------------------------------------- QAdd

function checkAdd(as: number[], bs: number[], adt: Q, bdt: Q, ydt: Q, relu: boolean): void {
  const a = randQ(adt, as), b = randQ(bdt, bs);
  const azp = zpFor(adt), bzp = zpFor(bdt), yzp = zpFor(ydt);
  const sa = uniform(0.005, 0.05), sb = uniform(0.005, 0.05);
  const sy = (sa + sb) * uniform(0.7, 1.3);
  const m = addMultipliers(sa, sb, sy);
  const [lo, hi] = range(ydt);
  const qmin = relu ? Math.max(lo, yzp) : lo;
  const y = runOp("QAdd", [a, b], {
    a_zp: azp,
    b_zp: bzp,
    y_zp: yzp,
    a_mult: m.a.mult,
    a_shift: m.a.shift,
    b_mult: m.b.mult,
    b_shift: m.b.shift,
    y_mult: m.y.mult,
    y_shift: m.y.shift,
    dtype: ydt,
    qmin,
  });
  const rank = Math.max(as.length, bs.length);
  const pa = [...new Array(rank - as.length).fill(1), ...as];
  const pb = [...new Array(rank - bs.length).fill(1), ...bs];
  const out = pa.map((d, i) => Math.max(d, pb[i]));
  assert.deepEqual(y.shape, out);
  for (let o = 0; o < prod(out); o++) {
    let rem = o, ia = 0, ib = 0, stA = 1, stB = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rem % out[d];
      rem = Math.floor(rem / out[d]);
      ia += (pa[d] === 1 ? 0 : c) * stA;
      ib += (pb[d] === 1 ? 0 : c) * stB;
      stA *= pa[d];
      stB *= pb[d];
    }
    const da = a.data[ia] - azp, db = b.data[ib] - bzp;
    const want = addRef(da, db, m, yzp, qmin, hi);
    if (y.data[o] !== want) assert.fail(`QAdd y[${o}] = ${y.data[o]}, want ${want}`);
    const fl = clamp(roundHalfAway((sa * da + sb * db) / sy) + yzp, qmin, hi);
    if (Math.abs(y.data[o] - fl) > 1) assert.fail(`QAdd y[${o}] ${y.data[o]} vs float ${fl}`);
  }
}

Deno.test("QAdd: same shape and broadcasting, int8/uint8 mixes, fused ReLU", () => {
  checkAdd([2, 16, 7, 7], [2, 16, 7, 7], "int8", "int8", "int8", true);
  checkAdd([1, 5, 3, 3], [1, 5, 3, 3], "uint8", "int8", "uint8", false);
  checkAdd([2, 3, 4, 5], [3, 1, 5], "int8", "uint8", "int8", false);
  checkAdd([17], [1, 3, 1], "uint8", "uint8", "uint8", true);
});

// ---------------------------------------------------------------- pools

interface PoolCase {
  size: number[];
  kernel: number[];
  pads?: number[];
  strides?: number[];
  dilations?: number[];
  ceil?: boolean;
  includePad?: boolean;
  dt: Q;
}

function checkPool(pc: PoolCase): void {
  const is2d = pc.size.length === 2;
  const [H, W] = is2d ? pc.size : [1, pc.size[0]];
  const [kh, kw] = is2d ? pc.kernel : [1, pc.kernel[0]];
  const pads = pc.pads ?? new Array(2 * pc.size.length).fill(0);
  const [pt, pl, pb, pr] = is2d ? pads : [0, pads[0], 0, pads[1]];
  const [sh, sw] = is2d ? (pc.strides ?? [1, 1]) : [1, (pc.strides ?? [1])[0]];
  const [dh, dw] = is2d ? (pc.dilations ?? [1, 1]) : [1, (pc.dilations ?? [1])[0]];
  const outLen = (len: number, p0: number, p1: number, k: number, d: number, s: number) => {
    const span = len + p0 + p1 - ((k - 1) * d + 1);
    if (!pc.ceil) return Math.floor(span / s) + 1;
    let o = Math.ceil(span / s) + 1;
    if ((o - 1) * s >= len + p0) o--;
    return o;
  };
  const oh = outLen(H, pt, pb, kh, dh, sh), ow = outLen(W, pl, pr, kw, dw, sw);
  const N = 2, C = 5;
  const x = randQ(pc.dt, [N, C, ...pc.size]);
  const zp = zpFor(pc.dt);
  const attrs: Attrs = { kernel_shape: pc.kernel };
  if (pc.pads) attrs.pads = pc.pads;
  if (pc.strides) attrs.strides = pc.strides;
  if (pc.dilations) attrs.dilations = pc.dilations;
  if (pc.ceil) attrs.ceil_mode = 1;
  const ymax = runOp("QMaxPool", [x], attrs);
  const yavg = runOp("QAveragePool", [x], {
    ...attrs,
    zero_point: zp,
    count_include_pad: pc.includePad ? 1 : 0,
  });
  const shape = is2d ? [N, C, oh, ow] : [N, C, ow];
  assert.deepEqual(ymax.shape, shape);
  assert.deepEqual(yavg.shape, shape);
  const lo = range(pc.dt)[0];
  for (let p = 0; p < N * C; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let mx = -Infinity, s = 0, inCount = 0, padCount = 0;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const iy = oy * sh + ky * dh - pt, ix = ox * sw + kx * dw - pl;
            if (iy >= -pt && iy < H + pb && ix >= -pl && ix < W + pr) padCount++;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const v = x.data[(p * H + iy) * W + ix];
            mx = Math.max(mx, v);
            s += v - zp;
            inCount++;
          }
        }
        const o = (p * oh + oy) * ow + ox;
        assert.equal(ymax.data[o], inCount ? mx : lo);
        const cnt = pc.includePad ? padCount : inCount;
        const want = cnt ? zp + Number(roundBig(BigInt(s), BigInt(cnt))) : zp;
        if (yavg.data[o] !== want) {
          assert.fail(`QAveragePool y[${o}] = ${yavg.data[o]}, want ${want}`);
        }
        // float: mean of the dequantized values (scale 1 w.l.o.g.) then quantize
        if (cnt) assert.ok(Math.abs(yavg.data[o] - (zp + roundHalfAway(s / cnt))) <= 1);
      }
    }
  }
}

Deno.test("QMaxPool / QAveragePool: padding, strides, dilation, ceil_mode, count_include_pad", () => {
  checkPool({ size: [7, 7], kernel: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], dt: "int8" });
  checkPool({
    size: [7, 7],
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [2, 2],
    includePad: true,
    dt: "uint8",
  });
  checkPool({ size: [6, 5], kernel: [2, 2], strides: [2, 2], ceil: true, dt: "uint8" });
  checkPool({ size: [9, 8], kernel: [2, 3], dilations: [2, 2], pads: [1, 0, 0, 1], dt: "int8" });
  checkPool({ size: [11], kernel: [4], strides: [3], pads: [1, 2], dt: "int8" });
  checkPool({ size: [4, 4], kernel: [2, 2], strides: [2, 2], dt: "int8" }); // ties (count 4)
});

Deno.test("QGlobalAveragePool: rounded mean, ties away from zero", () => {
  for (
    const [shape, dt] of [[[2, 17, 7, 7], "int8"], [[3, 5, 4], "uint8"], [
      [1, 3, 2, 2],
      "int8",
    ]] as [
      number[],
      Q,
    ][]
  ) {
    const x = randQ(dt, shape), zp = zpFor(dt);
    const y = runOp("QGlobalAveragePool", [x], { zero_point: zp });
    const sp = prod(shape.slice(2));
    assert.deepEqual(y.shape, [shape[0], shape[1], ...shape.slice(2).map(() => 1)]);
    for (let p = 0; p < shape[0] * shape[1]; p++) {
      let s = 0;
      for (let i = 0; i < sp; i++) s += x.data[p * sp + i] - zp;
      assert.equal(y.data[p], zp + Number(roundBig(BigInt(s), BigInt(sp))));
    }
  }
  const t: Tensor = { dtype: "int8", shape: [1, 2, 2], data: Int8Array.of(-1, -2, 1, 2) };
  assert.deepEqual([...runOp("QGlobalAveragePool", [t], {}).data], [-2, 2]); // ±1.5
});

// ---------------------------------------------------------------- QuantizeLinear8 / DequantizeLinear8, QRelu

Deno.test("QuantizeLinear8: ties away from zero, saturation, NaN -> zero point", () => {
  const x: Tensor = {
    dtype: "float32",
    shape: [9],
    data: Float32Array.of(1.25, -1.25, 0.75, -0.25, 1000, -Infinity, Infinity, NaN, 0.25),
  };
  const y8 = runOp("QuantizeLinear8", [x], { scale: 0.5, zero_point: 0, dtype: "int8" });
  assert.deepEqual([...y8.data], [3, -3, 2, -1, 127, -128, 127, 0, 1]);
  const yu = runOp("QuantizeLinear8", [x], { scale: 0.5, zero_point: 128 });
  assert.equal(yu.dtype, "uint8");
  assert.deepEqual([...yu.data], [131, 125, 130, 127, 255, 0, 255, 128, 129]);
  const z: Tensor = { dtype: "float32", shape: [2], data: Float32Array.of(0.25, -0.25) };
  assert.deepEqual([...runOp("QuantizeLinear8", [z], { scale: 0.1, dtype: "int8" }).data], [3, -3]);
  assert.throws(() => runOp("QuantizeLinear8", [x], { scale: 0 }), EdgeqError);
  assert.throws(() => runOp("QuantizeLinear8", [x], { scale: 1, zero_point: 300 }), EdgeqError);
});

Deno.test("QuantizeLinear8 / DequantizeLinear8: round trip and float consistency", () => {
  for (const dt of ["int8", "uint8"] as Q[]) {
    const [lo, hi] = range(dt);
    const q: Tensor = randQ(dt, [3, 5, 17]);
    for (let v = lo; v <= hi; v++) q.data[v - lo] = v; // every code appears
    const scale = uniform(0.001, 0.1), zp = zpFor(dt);
    const f = runOp("DequantizeLinear8", [q], { scale, zero_point: zp });
    assert.equal(f.dtype, "float32");
    const sf = Math.fround(scale);
    for (let i = 0; i < q.data.length; i++) {
      assert.equal(f.data[i], Math.fround(sf * (q.data[i] - zp)));
    }
    const back = runOp("QuantizeLinear8", [f], { scale, zero_point: zp, dtype: dt });
    assert.deepEqual([...back.data], [...q.data]);
    // random floats: the result is the nearest code (ties away), saturated
    const x: Tensor = { dtype: "float32", shape: [5000], data: new Float32Array(5000) };
    for (let i = 0; i < 5000; i++) x.data[i] = uniform(-150, 150) * sf;
    const y = runOp("QuantizeLinear8", [x], { scale, zero_point: zp, dtype: dt });
    for (let i = 0; i < 5000; i++) {
      const r = x.data[i] / sf + zp;
      assert.ok(Math.abs(y.data[i] - clamp(r, lo, hi)) <= 0.5 + 1e-5, `${r} -> ${y.data[i]}`);
    }
  }
});

Deno.test("QRelu: max(x, zero_point)", () => {
  const x: Tensor = { dtype: "int8", shape: [4], data: Int8Array.of(-9, -5, 7, -128) };
  assert.deepEqual([...runOp("QRelu", [x], { zero_point: -5 }).data], [-5, -5, 7, -5]);
  assert.throws(
    () => runOp("QRelu", [{ dtype: "float32", shape: [1], data: new Float32Array(1) }], {}),
    EdgeqError,
  );
});

// ---------------------------------------------------------------- speed

Deno.test("QConv/QAdd: a ResNet-14-shaped int8 network on 28x28, batch 10, runs quickly", () => {
  // stem 1->16, 3 stages (16, 32, 64) of 2 basic blocks, 1x1 downsampling shortcuts
  const N = 10;
  const q = quantizeMultiplier(0.002);
  const req: Attrs = { mult: q.mult, shift: q.shift, x_zp: 0, y_zp: -128, dtype: "int8" };
  const res: Attrs = {
    c_mult: 2 ** 30,
    c_shift: 0,
    r_mult: 2 ** 30,
    r_shift: 0,
    y_mult: 2 ** 30,
    y_shift: -19,
    c_zp: 0,
    r_zp: -128,
    qmin: -128,
  };
  const t0 = performance.now();
  let x = runOp("QConv", [randQ("int8", [N, 1, 28, 28]), randW([16, 1, 3, 3])], {
    ...req,
    pads: [1, 1, 1, 1],
  });
  let c = 16;
  for (const [out, stride] of [[16, 1], [32, 2], [64, 2]]) {
    for (let blk = 0; blk < 2; blk++) {
      const s = blk === 0 ? stride : 1;
      const h = runOp("QConv", [x, randW([out, c, 3, 3]), randBias(out, 1000)], {
        ...req,
        pads: [1, 1, 1, 1],
        strides: [s, s],
        x_zp: -128,
      });
      const sc = c === out && s === 1 ? x : runOp("QConv", [x, randW([out, c, 1, 1])], {
        ...req,
        strides: [s, s],
        x_zp: -128,
      });
      x = runOp("QConv", [h, randW([out, out, 3, 3]), randBias(out, 1000), sc], {
        ...req,
        ...res,
        pads: [1, 1, 1, 1],
        x_zp: -128,
      });
      c = out;
    }
  }
  const pooled = runOp("QGlobalAveragePool", [x], { zero_point: -128 });
  const logits = runOp("QGemm", [
    { ...pooled, shape: [N, 64] },
    randW([10, 64]),
    randBias(10, 1000),
  ], { ...req, x_zp: -128 });
  const ms = performance.now() - t0;
  assert.deepEqual(logits.shape, [N, 10]);
  assert.ok(ms < 10_000, `batch ${N} took ${ms.toFixed(0)} ms`);
});

Deno.test("QConv/QGemm with packed i4/i2/b1 weights equal the int8 op on the unpacked values", async () => {
  const { pack } = await import("../runtime/format/layouts.ts");
  for (const [layout, lo, hi] of [["i4", -8, 7], ["i2", -2, 1], ["b1", -1, 1]] as const) {
    for (const [m, c, k, group] of [[5, 3, 3, 1], [9, 6, 1, 3], [3, 11, 3, 1], [6, 6, 3, 6]]) {
      const wShape = [m, c / group, k, k];
      const w = new Int8Array(prod(wShape));
      for (let i = 0; i < w.length; i++) {
        w[i] = layout === "b1" ? (u32() & 1 ? 1 : -1) : intIn(lo, hi);
      }
      const kk = prod(wShape.slice(1));
      const packed = pack(layout, w, [m, kk]);
      const x = randQ("uint8", [2, c, 9, 7]);
      const b = randBias(m, 2000);
      const attrs: Attrs = {
        kernel_shape: [k, k],
        pads: [1, 0, 0, 1],
        strides: [2, 1],
        group,
        x_zp: layout === "b1" ? 0 : 131,
        mult: Array.from({ length: m }, () => intIn(2 ** 30, 2 ** 31 - 1)),
        shift: Array.from({ length: m }, () => intIn(-9, -4)),
        y_zp: 7,
        dtype: "uint8",
      };
      const ref = runOp("QConv", [x, { dtype: "int8", shape: wShape, data: w }, b], attrs);
      const got = runOp(
        "QConv",
        [x, { dtype: "uint8", shape: [packed.length], data: packed }, b],
        { ...attrs, w_layout: layout, w_shape: wShape },
      );
      assert.deepEqual([...got.data], [...ref.data], `${layout} conv ${[m, c, k, group]}`);
      assert.ok(new Set(ref.data).size > 3, "outputs vary");
    }
    // QGemm: W [N, K] packed row by row.
    const [n, kk] = [9, 37];
    const w = new Int8Array(n * kk);
    for (let i = 0; i < w.length; i++) {
      w[i] = layout === "b1" ? (u32() & 1 ? 1 : -1) : intIn(lo, hi);
    }
    const packed = pack(layout, w, [n, kk]);
    const x = randQ("int8", [4, kk]);
    const attrs: Attrs = { x_zp: -3, mult: 1518500250, shift: -6, y_zp: 0, dtype: "int8" };
    const ref = runOp("QGemm", [x, { dtype: "int8", shape: [n, kk], data: w }], attrs);
    const got = runOp(
      "QGemm",
      [x, { dtype: "uint8", shape: [packed.length], data: packed }],
      { ...attrs, w_layout: layout, w_shape: [n, kk] },
    );
    assert.deepEqual([...got.data], [...ref.data], `${layout} gemm`);
    // A wrong byte count names the op instead of reading past the data.
    assert.throws(
      () =>
        runOp("QGemm", [x, {
          dtype: "uint8",
          shape: [packed.length - 1],
          data: packed.subarray(1),
        }], {
          ...attrs,
          w_layout: layout,
          w_shape: [n, kk],
        }),
      (e: unknown) => e instanceof EdgeqError && /needs/.test(e.message),
    );
  }
});
