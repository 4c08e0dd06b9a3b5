/**
 * The integer-only transformer ops of kernels/ref/quant (QLut, QSoftmax, QLayerNorm):
 * hand-checked small cases, random rows of odd lengths 1..67 against an f64 float
 * reference (stated tolerances), and typed errors for bad attributes and shapes.
 */
import assert from "node:assert/strict";
import { QUANT_OPS } from "../kernels/ref/quant/mod.ts";
import { isqrtNearest, layerNormShift } from "../kernels/ref/quant/qlayernorm.ts";
import { quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import type { Attrs } from "../runtime/graph.ts";
import { EdgeqError } from "../runtime/errors.ts";
import type { Tensor } from "../runtime/tensor.ts";

function run(op: string, x: Tensor, attrs: Attrs): Tensor {
  const ctx = {
    node: { name: "t", op, domain: "edgeq", inputs: ["x"], outputs: ["y"], attrs },
    opset: 17,
  };
  const [meta] = QUANT_OPS[op].infer([{ dtype: x.dtype, shape: x.shape }], attrs, [], ctx);
  const [y] = QUANT_OPS[op].run([x], attrs, ctx);
  assert.deepEqual({ dtype: y.dtype, shape: y.shape }, meta);
  return y;
}

let seed = 12345;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
const ri = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
const u8 = (shape: number[], v: number[]): Tensor => ({
  dtype: "uint8",
  shape,
  data: Uint8Array.from(v),
});

function expTable(s: number): number[] {
  return Array.from({ length: 256 }, (_, d) => Math.round(65536 * Math.exp(-s * d)));
}

Deno.test("QLut: table lookup for uint8 and int8 (entry 0 is the dtype's minimum)", () => {
  const table = Array.from({ length: 256 }, (_, i) => (i * 7 + 3) % 256);
  const y = run("QLut", u8([2, 3], [0, 1, 255, 17, 9, 128]), { table });
  assert.deepEqual([...y.data], [0, 1, 255, 17, 9, 128].map((c) => table[c]));
  const x8: Tensor = { dtype: "int8", shape: [3], data: Int8Array.from([-128, 0, 127]) };
  assert.deepEqual([...run("QLut", x8, { table }).data], [table[0], table[128], table[255]]);
  const tI8 = Array.from({ length: 256 }, (_, i) => i - 128);
  const yi = run("QLut", x8, { table: tI8, dtype: "int8" });
  assert.equal(yi.dtype, "int8");
  assert.deepEqual([...yi.data], [-128, 0, 127]);
});

Deno.test("QSoftmax: equal codes give 1/N; a dominant code saturates at 255", () => {
  const attrs = { exp_table: expTable(0.1), r: 255 };
  // S = 3·2^16, a = 2^16·255 + 3·2^15 → floor(85.5) = 85.
  assert.deepEqual([...run("QSoftmax", u8([1, 3], [7, 7, 7]), attrs).data], [85, 85, 85]);
  assert.deepEqual([...run("QSoftmax", u8([1], [200]), attrs).data], [255]);
  const big = { exp_table: expTable(1), r: 300 }; // e^-200 → 0
  assert.deepEqual([...run("QSoftmax", u8([2], [250, 50]), big).data], [255, 0]);
  // int8 input: the row max is found the same way.
  const x8: Tensor = { dtype: "int8", shape: [2], data: Int8Array.from([-5, -5]) };
  assert.deepEqual([...run("QSoftmax", x8, attrs).data], [128, 128]);
});

Deno.test("QSoftmax: random rows of odd lengths 1..67 within 1 LSB of f64 softmax·r (r ≤ 600)", () => {
  let worst = 0, checked = 0;
  for (let n = 1; n <= 67; n += 2) {
    const rows = 3, s = 0.005 + rnd() * 0.2, r = ri(255, 600);
    const data = Array.from({ length: rows * n }, () => ri(0, 255));
    const y = run("QSoftmax", u8([rows, n], data), { exp_table: expTable(s), r });
    for (let b = 0; b < rows; b++) {
      const row = data.slice(b * n, b * n + n), m = Math.max(...row);
      const e = row.map((q) => Math.exp(-s * (m - q)));
      const sum = e.reduce((a, v) => a + v, 0);
      for (let i = 0; i < n; i++) {
        const want = Math.min(255, (e[i] / sum) * r);
        worst = Math.max(worst, Math.abs(y.data[b * n + i] - want));
        checked++;
      }
    }
  }
  console.log(`max |Δ| ${worst.toFixed(3)} LSB over ${checked} values`);
  assert.ok(worst <= 1, `max |Δ| ${worst} LSB over ${checked} values`);
});

/** QLayerNorm attributes for real γ, β, ε, input scale sx, output params (so, zo). */
function lnAttrs(
  n: number,
  gamma: number[],
  beta: number[],
  eps: number,
  sx: number,
  so: number,
  zo: number,
): Attrs {
  const k = layerNormShift(n);
  const m = gamma.map((g) => quantizeMultiplier((Math.abs(g) * 16) / (so * 2 ** k)));
  return {
    eps: Math.max(1, Math.round((n * n * eps) / (sx * sx))),
    mult: m.map((v) => v.mult),
    shift: m.map((v) => v.shift),
    sign: gamma.map(Math.sign),
    bias: beta.map((b) => Math.round((16 * b) / so)),
    y_zp: zo,
  };
}

Deno.test("QLayerNorm: hand-checked cases (N = 1 → variance 0 → eps path; negative γ)", () => {
  assert.equal(layerNormShift(1), 22);
  assert.equal(layerNormShift(64), 16);
  assert.equal(layerNormShift(512), 13);
  assert.deepEqual([0, 1, 2, 3, 6, 7, 2 ** 32 - 1].map(isqrtNearest), [0, 1, 1, 2, 2, 3, 65536]);
  // N = 1: D = 0, V = 0, σ = isqrt(eps) ≥ 1, t = 0 → y = zp + (bias + 8) >> 4 = β/so.
  const one = lnAttrs(1, [2], [0.5], 1e-5, 0.02, 0.1, 100);
  for (const c of [0, 77, 255]) {
    assert.deepEqual([...run("QLayerNorm", u8([1, 1], [c]), one).data], [105]);
  }
  // N = 2, codes [0, 10]: D = [−10, 10], V = 100, eps = 1 → σ = 10, k = 21, t = ∓2^21.
  // γ = −1, so = 1/16: u = ±256, y = 128 + [16, −16].
  const neg = { ...lnAttrs(2, [-1, -1], [0, 0], 1e-9, 1, 1 / 16, 128) };
  assert.equal(neg.eps, 1);
  assert.deepEqual([...run("QLayerNorm", u8([1, 2], [0, 10]), neg).data], [144, 112]);
  // Shifting every code of a row changes nothing (uint8 vs int8 codes).
  const x8: Tensor = { dtype: "int8", shape: [1, 2], data: Int8Array.from([-128, -118]) };
  assert.deepEqual([...run("QLayerNorm", x8, neg).data], [144, 112]);
  // Clamp: qmin/qmax bound the output.
  const cl = { ...neg, qmin: 120, qmax: 140 };
  assert.deepEqual([...run("QLayerNorm", u8([1, 2], [0, 10]), cl).data], [140, 120]);
});

Deno.test("QLayerNorm: random rows of odd lengths 1..67 within 1 LSB of f64 layer norm", () => {
  let worst = 0, checked = 0;
  for (let n = 1; n <= 67; n += 2) {
    const rows = 4, sx = 0.01 + rnd() * 0.05, so = 0.02 + rnd() * 0.04, zo = ri(100, 150);
    const gamma = Array.from({ length: n }, () => (rnd() * 2 - 1) * 1.5);
    const beta = Array.from({ length: n }, () => (rnd() * 2 - 1) * 0.5);
    const eps = 1e-5;
    const attrs = lnAttrs(n, gamma, beta, eps, sx, so, zo);
    const epsReal = ((attrs.eps as number) * sx * sx) / (n * n); // the ε the ints stand for
    const data = Array.from({ length: rows * n }, () => ri(0, 255));
    const y = run("QLayerNorm", u8([rows, n], data), attrs);
    for (let b = 0; b < rows; b++) {
      const x = data.slice(b * n, b * n + n).map((q) => sx * (q - 37));
      const mu = x.reduce((a, v) => a + v, 0) / n;
      const v = x.reduce((a, t) => a + (t - mu) ** 2, 0) / n;
      for (let i = 0; i < n; i++) {
        const real = ((x[i] - mu) / Math.sqrt(v + epsReal)) * gamma[i] + beta[i];
        const want = Math.min(255, Math.max(0, real / so + zo));
        worst = Math.max(worst, Math.abs(y.data[b * n + i] - want));
        checked++;
      }
    }
  }
  console.log(`max |Δ| ${worst.toFixed(3)} LSB over ${checked} values`);
  assert.ok(worst <= 1, `max |Δ| ${worst} LSB over ${checked} values`);
});

Deno.test("QLut/QSoftmax/QLayerNorm: bad attributes and shapes throw EdgeqError naming the node", () => {
  const bad = (op: string, x: Tensor, attrs: Attrs, code: string) =>
    assert.throws(() => run(op, x, attrs), (e) => {
      assert.ok(e instanceof EdgeqError, String(e));
      assert.equal(e.code, code);
      assert.match(e.message, /\bt\b/);
      return true;
    });
  const x = u8([2, 3], [1, 2, 3, 4, 5, 6]);
  bad("QLut", x, { table: [1, 2, 3] }, "E_UNSUPPORTED_ATTR");
  bad("QLut", x, { table: Array(256).fill(300) }, "E_UNSUPPORTED_ATTR");
  bad("QSoftmax", x, { exp_table: Array(256).fill(0), r: 255 }, "E_UNSUPPORTED_ATTR");
  bad("QSoftmax", x, { exp_table: expTable(0.1), r: 40000 }, "E_UNSUPPORTED_ATTR");
  bad("QSoftmax", x, { exp_table: expTable(0.1) }, "E_UNSUPPORTED_ATTR");
  const ln = lnAttrs(3, [1, 1, 1], [0, 0, 0], 1e-5, 0.02, 0.03, 128);
  bad("QLayerNorm", x, { ...ln, eps: 0 }, "E_UNSUPPORTED_ATTR");
  bad("QLayerNorm", x, { ...ln, sign: [2] }, "E_UNSUPPORTED_ATTR");
  bad("QLayerNorm", x, { ...ln, bias: [0, 0] }, "E_UNSUPPORTED_ATTR");
  bad("QLayerNorm", u8([1, 513], Array(513).fill(1)), {
    ...ln,
    mult: 1 << 30,
    shift: 0,
    sign: 1,
    bias: 0,
  }, "E_SHAPE");
  const f: Tensor = { dtype: "float32", shape: [3], data: new Float32Array(3) };
  bad("QLayerNorm", f, ln, "E_UNSUPPORTED_DTYPE");
});
