/**
 * Tests of the elementwise reference ops (kernels/ref/elementwise.ts): broadcasting,
 * integer semantics, every unary op against its defining formula on random data,
 * erf accuracy, Clip/Dropout/Cast opset forms, and error reporting.
 */
import assert from "node:assert/strict";
import { ELEMENTWISE_OPS } from "../kernels/ref/elementwise.ts";
import { broadcastIndex, broadcastShapes } from "../kernels/ref/broadcast.ts";
import { erf } from "../kernels/ref/erf.ts";
import type { OpContext } from "../kernels/ref/op.ts";
import type { Attrs } from "../runtime/graph.ts";
import { EdgeqError } from "../runtime/errors.ts";
import { allocData, type DType, size, strides, type Tensor } from "../runtime/tensor.ts";

// ---- helpers ------------------------------------------------------------------------

function ctxOf(op: string, opset = 17, nIn = 2, nOut = 1): OpContext {
  const inputs = Array.from({ length: nIn }, (_, i) => `in${i}`);
  const outputs = Array.from({ length: nOut }, (_, i) => `out${i}`);
  return { node: { name: `${op}_0`, op, domain: "", inputs, outputs, attrs: {} }, opset };
}

function t(dtype: DType, shape: number[], values: number[]): Tensor {
  const data = allocData(dtype, size(shape));
  values.forEach((v, i) => data[i] = v);
  return { dtype, shape, data };
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random non-zero values in [lo, hi). */
function rand(dtype: DType, shape: number[], seed: number, lo = -3, hi = 3): Tensor {
  const r = rng(seed);
  const n = size(shape);
  const data = allocData(dtype, n);
  const int = dtype !== "float32" && dtype !== "float64";
  for (let i = 0; i < n; i++) {
    let v = 0;
    while (v === 0) v = int ? Math.floor(lo + r() * (hi - lo)) : lo + r() * (hi - lo);
    data[i] = v;
  }
  return { dtype, shape, data };
}

/** Runs op `op` after checking that `infer` agrees with the run outputs' metadata. */
function run(
  op: string,
  ins: (Tensor | undefined)[],
  attrs: Attrs = {},
  opset = 17,
  nOut = 1,
): Tensor[] {
  const ctx = ctxOf(op, opset, ins.length, nOut);
  const def = ELEMENTWISE_OPS[op];
  assert.ok(def, `op ${op} exists`);
  const metas = ins.map((x) => x && { dtype: x.dtype, shape: [...x.shape] });
  const inferred = def.infer(metas, attrs, ins, ctx);
  const outs = def.run(ins, attrs, ctx);
  assert.deepEqual(
    outs.map((o) => ({ dtype: o.dtype, shape: o.shape })),
    inferred.map((m) => ({ dtype: m.dtype, shape: m.shape })),
    `${op}: infer matches run`,
  );
  outs.forEach((o) => assert.equal(o.data.length, size(o.shape)));
  return outs;
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-6, what = ""): void {
  assert.equal(got.length, want.length, `${what} length`);
  for (let i = 0; i < want.length; i++) {
    const a = got[i];
    const b = want[i];
    if (Number.isNaN(b)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: got ${a}, want NaN`);
      continue;
    }
    const ok = a === b || Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
    assert.ok(ok, `${what}[${i}]: got ${a}, want ${b}`);
  }
}

function throwsCode(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EdgeqError, `EdgeqError expected, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** Naive broadcasting reference: output coords -> input coords, one element at a time. */
function naive(ins: Tensor[], outShape: number[], f: (v: number[]) => number): number[] {
  const out: number[] = [];
  const n = size(outShape);
  for (let o = 0; o < n; o++) {
    const coord: number[] = [];
    let rem = o;
    for (let d = outShape.length - 1; d >= 0; d--) {
      coord[d] = rem % outShape[d];
      rem = Math.floor(rem / outShape[d]);
    }
    const v = ins.map((x) => {
      const st = strides(x.shape);
      const off = outShape.length - x.shape.length;
      let at = 0;
      x.shape.forEach((dim, k) => at += (dim === 1 ? 0 : coord[k + off]) * st[k]);
      return x.data[at];
    });
    out.push(f(v));
  }
  return out;
}

// ---- broadcasting -------------------------------------------------------------------

Deno.test("broadcastShapes: numpy rules, hand-checked", () => {
  const ctx = ctxOf("Add");
  assert.deepEqual(broadcastShapes(ctx, [2, 1, 4], [3, 1]), [2, 3, 4]);
  assert.deepEqual(broadcastShapes(ctx, [], [5]), [5]);
  assert.deepEqual(broadcastShapes(ctx, [1], [0, 3]), [0, 3]);
  assert.deepEqual(broadcastShapes(ctx, [5, 1, 3], [1, 7, 1], [3]), [5, 7, 3]);
  throwsCode(() => broadcastShapes(ctx, [2, 3], [4, 3]), "E_SHAPE", /Add_0/);
});

Deno.test("broadcastIndex: hand-checked maps", () => {
  assert.equal(broadcastIndex([2, 3], [2, 3]), null);
  assert.deepEqual([...broadcastIndex([2, 3], [3])!], [0, 1, 2, 0, 1, 2]);
  assert.deepEqual([...broadcastIndex([2, 3], [2, 1])!], [0, 0, 0, 1, 1, 1]);
  assert.deepEqual([...broadcastIndex([2, 2, 2], [2, 1, 2])!], [0, 1, 0, 1, 2, 3, 2, 3]);
  assert.deepEqual([...broadcastIndex([3], [])!], [0, 0, 0]);
});

Deno.test("Add/Sub/Mul/Div/Pow broadcast on odd shapes match a naive reference", () => {
  const a = rand("float32", [3, 1, 5], 1);
  const b = rand("float32", [4, 1], 2);
  const fns: Record<string, (v: number[]) => number> = {
    Add: (v) => v[0] + v[1],
    Sub: (v) => v[0] - v[1],
    Mul: (v) => v[0] * v[1],
    Div: (v) => v[0] / v[1],
    Pow: (v) => Math.pow(Math.abs(v[0]), v[1]),
  };
  for (const [op, f] of Object.entries(fns)) {
    const x = op === "Pow" ? { ...a, data: a.data.map(Math.abs) } : a;
    const [y] = run(op, [x, b]);
    assert.deepEqual(y.shape, [3, 4, 5]);
    assert.equal(y.dtype, "float32");
    close(y.data, naive([x, b], [3, 4, 5], f), 1e-6, op);
  }
});

Deno.test("Add: scalar + tensor and hand-checked values", () => {
  const [y] = run("Add", [t("float32", [], [10]), t("float32", [2, 2], [1, 2, 3, 4])]);
  assert.deepEqual(y.shape, [2, 2]);
  assert.deepEqual([...y.data], [11, 12, 13, 14]);
  const [z] = run("Add", [t("int32", [2, 1], [1, 2]), t("int32", [3], [10, 20, 30])]);
  assert.deepEqual([...z.data], [11, 21, 31, 12, 22, 32]);
});

Deno.test("integer arithmetic: Div truncates toward zero, Mul wraps like C, uint8 wraps", () => {
  for (const dt of ["int32", "int64", "int8"] as const) {
    const [q] = run("Div", [t(dt, [4], [7, -7, 7, -7]), t(dt, [4], [2, 2, -2, -2])]);
    assert.deepEqual([...q.data], [3, -3, -3, 3], dt);
  }
  const [m] = run("Mul", [t("int32", [1], [65537]), t("int32", [1], [65537])]);
  assert.equal(m.data[0], Math.imul(65537, 65537));
  const [u] = run("Add", [t("uint8", [2], [250, 3]), t("uint8", [2], [10, 4])]);
  assert.deepEqual([...u.data], [4, 7]);
  const [s] = run("Sub", [t("uint8", [1], [1]), t("uint8", [1], [2])]);
  assert.equal(s.data[0], 255);
});

Deno.test("Mod: fmod=0 follows the divisor's sign, fmod=1 the dividend's", () => {
  const a = t("int32", [4], [-4, 7, 5, -5]);
  const b = t("int32", [4], [3, -3, 3, -3]);
  assert.deepEqual([...run("Mod", [a, b])[0].data], [2, -2, 2, -2]);
  assert.deepEqual([...run("Mod", [a, b], { fmod: 1 })[0].data], [-1, 1, 2, -2]);
  const [f] = run("Mod", [t("float64", [2], [-4.5, 7.5]), t("float64", [2], [2, -2])], { fmod: 1 });
  assert.deepEqual([...f.data], [-0.5, 1.5]);
  throwsCode(
    () => run("Mod", [t("float32", [1], [1]), t("float32", [1], [2])]),
    "E_UNSUPPORTED_ATTR",
  );
});

Deno.test("Pow: integer base with float exponent keeps the base dtype", () => {
  const [y] = run("Pow", [t("int32", [3], [2, 3, 4]), t("float32", [3], [2, 2, 0.5])]);
  assert.equal(y.dtype, "int32");
  assert.deepEqual([...y.data], [4, 9, 2]);
  const [z] = run("Pow", [t("float32", [2], [2, 9]), t("int64", [1], [2])]);
  assert.deepEqual([...z.data], [4, 81]);
});

Deno.test("variadic Max/Min/Sum/Mean broadcast three inputs", () => {
  const xs = [rand("float32", [2, 1, 3], 3), rand("float32", [4, 1], 4), rand("float32", [3], 5)];
  const fns: Record<string, (v: number[]) => number> = {
    Max: (v) => Math.max(...v),
    Min: (v) => Math.min(...v),
    Sum: (v) => v[0] + v[1] + v[2],
    Mean: (v) => (v[0] + v[1] + v[2]) / 3,
  };
  for (const [op, f] of Object.entries(fns)) {
    const [y] = run(op, xs);
    assert.deepEqual(y.shape, [2, 4, 3]);
    close(y.data, naive(xs, [2, 4, 3], f), 1e-6, op);
  }
  const [one] = run("Max", [t("int64", [2], [3, -1])]);
  assert.deepEqual([...one.data], [3, -1]);
  const [nan] = run("Max", [t("float32", [2], [NaN, 1]), t("float32", [2], [1, 2])]);
  assert.ok(Number.isNaN(nan.data[0]));
});

Deno.test("comparisons and logic give bool", () => {
  const a = t("float32", [2, 3], [1, 2, 3, 4, 5, 6]);
  const b = t("float32", [3], [2, 2, 7]);
  const want: Record<string, number[]> = {
    Equal: [0, 1, 0, 0, 0, 0],
    Less: [1, 0, 1, 0, 0, 1],
    Greater: [0, 0, 0, 1, 1, 0],
    LessOrEqual: [1, 1, 1, 0, 0, 1],
    GreaterOrEqual: [0, 1, 0, 1, 1, 0],
  };
  for (const [op, w] of Object.entries(want)) {
    const [y] = run(op, [a, b]);
    assert.equal(y.dtype, "bool");
    assert.deepEqual([...y.data], w, op);
  }
  const p = t("bool", [4], [0, 0, 1, 1]);
  const q = t("bool", [4], [0, 1, 0, 1]);
  assert.deepEqual([...run("And", [p, q])[0].data], [0, 0, 0, 1]);
  assert.deepEqual([...run("Or", [p, q])[0].data], [0, 1, 1, 1]);
  assert.deepEqual([...run("Xor", [p, q])[0].data], [0, 1, 1, 0]);
  assert.deepEqual([...run("Not", [p])[0].data], [1, 1, 0, 0]);
  assert.deepEqual([...run("Equal", [p, q])[0].data], [1, 0, 0, 1]);
  throwsCode(() => run("And", [a, b]), "E_UNSUPPORTED_DTYPE");
});

Deno.test("BitShift on unsigned ints", () => {
  const x = t("uint8", [3], [16, 4, 1]);
  const s = t("uint8", [3], [1, 2, 8]);
  assert.deepEqual([...run("BitShift", [x, s], { direction: "LEFT" })[0].data], [32, 16, 0]);
  assert.deepEqual([...run("BitShift", [x, s], { direction: "RIGHT" })[0].data], [8, 1, 0]);
  const [w] = run("BitShift", [t("uint32", [1], [0x80000001]), t("uint32", [1], [1])], {
    direction: "LEFT",
  });
  assert.equal(w.data[0], 2);
  throwsCode(() => run("BitShift", [x, s], { direction: "UP" }), "E_UNSUPPORTED_ATTR");
});

Deno.test("Where: three-way broadcast, hand-checked", () => {
  const c = t("bool", [2, 1], [1, 0]);
  const x = t("float32", [3], [1, 2, 3]);
  const y = t("float32", [], [-1]);
  const [o] = run("Where", [c, x, y]);
  assert.deepEqual(o.shape, [2, 3]);
  assert.deepEqual([...o.data], [1, 2, 3, -1, -1, -1]);
  throwsCode(() => run("Where", [x, x, x]), "E_UNSUPPORTED_DTYPE");
});

Deno.test("PRelu: unidirectional slope broadcast", () => {
  const x = rand("float32", [2, 3, 2, 5], 6);
  const s = t("float32", [3, 1, 1], [0.1, 0.2, 0.3]);
  const [y] = run("PRelu", [x, s]);
  close(y.data, naive([x, s], [2, 3, 2, 5], (v) => v[0] < 0 ? v[0] * v[1] : v[0]), 1e-6);
  throwsCode(() => run("PRelu", [t("float32", [3], [1, 2, 3]), s]), "E_SHAPE", /slope/);
});

// ---- unary --------------------------------------------------------------------------

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const sp = (x: number) => Math.log(1 + Math.exp(x));
const UNARY: Record<string, [(x: number) => number, Attrs?, [number, number]?]> = {
  Relu: [(x) => Math.max(x, 0)],
  LeakyRelu: [(x) => x < 0 ? 0.01 * x : x],
  Elu: [(x) => x < 0 ? 0.5 * (Math.exp(x) - 1) : x, { alpha: 0.5 }],
  Selu: [(x) => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (Math.exp(x) - 1))],
  Celu: [(x) => Math.max(0, x) + Math.min(0, 2 * (Math.exp(x / 2) - 1)), { alpha: 2 }],
  ThresholdedRelu: [(x) => x > 1 ? x : 0],
  Sigmoid: [sig],
  HardSigmoid: [(x) => Math.max(0, Math.min(1, 0.2 * x + 0.5))],
  HardSwish: [(x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))],
  Tanh: [Math.tanh],
  Softplus: [sp],
  Softsign: [(x) => x / (1 + Math.abs(x))],
  Mish: [(x) => x * Math.tanh(sp(x))],
  Exp: [Math.exp],
  Log: [Math.log, {}, [0.1, 5]],
  Sqrt: [Math.sqrt, {}, [0.1, 5]],
  Reciprocal: [(x) => 1 / x],
  Abs: [Math.abs],
  Neg: [(x) => -x],
  Floor: [Math.floor],
  Ceil: [Math.ceil],
  Sign: [Math.sign],
  Sin: [Math.sin],
  Cos: [Math.cos],
  Tan: [Math.tan],
  Asin: [Math.asin, {}, [-0.99, 0.99]],
  Acos: [Math.acos, {}, [-0.99, 0.99]],
  Atan: [Math.atan],
  Sinh: [Math.sinh],
  Cosh: [Math.cosh],
  Asinh: [Math.asinh],
  Acosh: [Math.acosh, {}, [1.01, 5]],
  Atanh: [Math.atanh, {}, [-0.99, 0.99]],
  Erf: [erf],
};

Deno.test("unary float ops match their formulas on random data (f32 and f64)", () => {
  let seed = 100;
  for (const [op, [f, attrs, range]] of Object.entries(UNARY)) {
    for (const dt of ["float32", "float64"] as const) {
      const x = rand(dt, [3, 5, 7], seed++, range?.[0] ?? -3, range?.[1] ?? 3);
      const [y] = run(op, [x], attrs ?? {});
      assert.equal(y.dtype, dt);
      const want = Array.from(x.data, f);
      close(y.data, dt === "float32" ? Float32Array.from(want) : want, 2e-6, `${op} ${dt}`);
    }
  }
});

Deno.test("integer unary ops: Relu, Abs, Neg, Sign keep the dtype", () => {
  const x = t("int32", [4], [-3, 0, 2, -1]);
  assert.deepEqual([...run("Relu", [x])[0].data], [0, 0, 2, 0]);
  assert.deepEqual([...run("Abs", [x])[0].data], [3, 0, 2, 1]);
  assert.deepEqual([...run("Neg", [x])[0].data], [3, 0, -2, 1]);
  assert.deepEqual([...run("Sign", [x])[0].data], [-1, 0, 1, -1]);
  throwsCode(() => run("Exp", [x]), "E_UNSUPPORTED_DTYPE", /Exp_0/);
  throwsCode(() => run("Neg", [t("uint8", [1], [1])]), "E_UNSUPPORTED_DTYPE");
});

Deno.test("erf: accurate to 1e-7 at known values, odd, saturating", () => {
  const known: [number, number][] = [
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [-2, -0.9953222650189527],
    [3, 0.9999779095030014],
    [0.1, 0.1124629160182849],
    [-0.01, -0.011283415555849618],
    [4.5, 0.9999999998033839],
  ];
  for (const [x, y] of known) assert.ok(Math.abs(erf(x) - y) < 1e-7, `erf(${x})`);
  for (const [x, y] of known) assert.ok(Math.abs(erf(x) - y) < 1e-14, `erf(${x}) tight`);
  assert.equal(erf(0), 0);
  assert.equal(erf(7), 1);
  assert.equal(erf(-Infinity), -1);
  assert.ok(Number.isNaN(erf(NaN)));
  for (let x = 0.05; x < 5; x += 0.37) assert.equal(erf(-x), -erf(x));
  let prev = -1;
  for (let x = -6; x <= 6; x += 0.01) {
    const v = erf(x);
    assert.ok(v >= prev, `monotone at ${x}`);
    prev = v;
  }
});

Deno.test("Gelu: exact (erf) and tanh approximations", () => {
  const x = t("float64", [5], [-3, -0.5, 0, 0.5, 2]);
  const [e] = run("Gelu", [x]);
  close(e.data, Array.from(x.data, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))), 1e-15);
  close(e.data, [-0.0040496, -0.1542687, 0, 0.3457312, 1.9544997], 1e-6);
  const [a] = run("Gelu", [x], { approximate: "tanh" });
  close(a.data, [-0.0036374, -0.1542859, 0, 0.3457140, 1.9545977], 1e-6);
  throwsCode(() => run("Gelu", [x], { approximate: "fast" }), "E_UNSUPPORTED_ATTR");
});

Deno.test("Round: half to even", () => {
  const x = t("float32", [9], [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6]);
  const [y] = run("Round", [x]);
  assert.deepEqual([...y.data], [0, 2, 2, -0, -2, -2, 2, 3, -3]);
});

Deno.test("IsNaN, IsInf with detect attributes", () => {
  const x = t("float32", [4], [NaN, Infinity, -Infinity, 1]);
  assert.deepEqual([...run("IsNaN", [x])[0].data], [1, 0, 0, 0]);
  assert.deepEqual([...run("IsInf", [x])[0].data], [0, 1, 1, 0]);
  assert.deepEqual([...run("IsInf", [x], { detect_negative: 0 })[0].data], [0, 1, 0, 0]);
  assert.deepEqual([...run("IsInf", [x], { detect_positive: 0 })[0].data], [0, 0, 1, 0]);
});

// ---- Clip, Identity, Dropout --------------------------------------------------------

Deno.test("Clip: attributes before opset 11, optional inputs after", () => {
  const x = t("float32", [5], [-2, -0.5, 0, 0.5, NaN]);
  assert.deepEqual([...run("Clip", [x], { min: -1, max: 0.25 }, 6)[0].data].slice(0, 4), [
    -1,
    -0.5,
    0,
    0.25,
  ]);
  assert.deepEqual([...run("Clip", [x], {}, 6)[0].data].slice(0, 4), [-2, -0.5, 0, 0.5]);
  const lo = t("float32", [], [-1]);
  const hi = t("float32", [], [0.25]);
  const [y] = run("Clip", [x, lo, hi], {}, 13);
  close(y.data, [-1, -0.5, 0, 0.25, NaN]);
  assert.deepEqual([...run("Clip", [x, undefined, hi], {}, 13)[0].data].slice(0, 4), [
    -2,
    -0.5,
    0,
    0.25,
  ]);
  // min > max gives max (numpy.clip order)
  const [z] = run("Clip", [x, t("float32", [], [1]), t("float32", [], [0])], {}, 13);
  assert.deepEqual([...z.data].slice(0, 4), [0, 0, 0, 0]);
  const [i] = run(
    "Clip",
    [t("int8", [3], [-100, 5, 100]), t("int8", [], [-10]), t("int8", [], [10])],
    {},
    13,
  );
  assert.deepEqual([...i.data], [-10, 5, 10]);
  throwsCode(() => run("Clip", [x], { min: 0 }, 13), "E_UNSUPPORTED_ATTR", /opset 11/);
  throwsCode(() => run("Clip", [x, lo], {}, 6), "E_SHAPE", /opset 11/);
  throwsCode(() => run("Clip", [x, t("float64", [], [0])], {}, 13), "E_UNSUPPORTED_DTYPE");
});

Deno.test("Identity copies; Dropout is the identity with an all-true mask", () => {
  const x = rand("float32", [2, 3], 7);
  const [y] = run("Identity", [x]);
  assert.deepEqual([...y.data], [...x.data]);
  assert.notEqual(y.data, x.data);
  const [d, mask] = run("Dropout", [x, t("float32", [], [0.3])], {}, 13, 2);
  assert.deepEqual([...d.data], [...x.data]);
  assert.equal(mask.dtype, "bool");
  assert.deepEqual([...mask.data], [1, 1, 1, 1, 1, 1]);
  const [d7, m7] = run("Dropout", [x], { ratio: 0.2 }, 7, 2);
  assert.deepEqual([...d7.data], [...x.data]);
  assert.equal(m7.dtype, "float32");
  assert.equal(run("Dropout", [x], {}, 12).length, 1);
  const on = t("bool", [], [1]);
  throwsCode(() => run("Dropout", [x, undefined, on], {}, 13), "E_UNSUPPORTED_ATTR", /training/);
  // ratio 0 in training mode is still the identity
  run("Dropout", [x, t("float32", [], [0]), on], {}, 13);
});

// ---- Cast ---------------------------------------------------------------------------

Deno.test("Cast: truncation, bool, wrap, int64, by ONNX type number", () => {
  const x = t("float32", [6], [-2.7, 2.7, 0, NaN, 300, -0.5]);
  const [i] = run("Cast", [x], { to: 6 }); // INT32
  assert.equal(i.dtype, "int32");
  assert.deepEqual([...i.data], [-2, 2, 0, 0, 300, 0]);
  const [l] = run("Cast", [x], { to: 7 }); // INT64
  assert.equal(l.dtype, "int64");
  assert.deepEqual([...l.data], [-2, 2, 0, 0, 300, 0]);
  const [b] = run("Cast", [x], { to: 9 }); // BOOL
  assert.deepEqual([...b.data], [1, 1, 0, 1, 1, 1]);
  const [u] = run("Cast", [x], { to: 2 }); // UINT8
  assert.deepEqual([...u.data].slice(0, 3), [254, 2, 0]);
  assert.equal(u.data[4], 300 % 256);
  const [f] = run("Cast", [t("int64", [2], [16777217, -3])], { to: 1 }); // FLOAT
  assert.deepEqual([...f.data], [16777216, -3]);
  const [d] = run("Cast", [t("bool", [2], [1, 0])], { to: 11 }); // DOUBLE
  assert.deepEqual([...d.data], [1, 0]);
  const [s] = run("Cast", [x], { to: "int16", saturate: 1 });
  assert.equal(s.dtype, "int16");
  throwsCode(() => run("Cast", [x], { to: 10 }), "E_UNSUPPORTED_DTYPE", /float16/);
  throwsCode(() => run("Cast", [x], {}), "E_UNSUPPORTED_ATTR", /'to'/);
});

Deno.test("CastLike takes the dtype of its second input", () => {
  const [y] = run("CastLike", [t("float64", [3], [1.9, -1.9, 0]), t("int8", [0], [])]);
  assert.equal(y.dtype, "int8");
  assert.deepEqual([...y.data], [1, -1, 0]);
});

// ---- errors -------------------------------------------------------------------------

Deno.test("errors name the node: dtype mismatch, missing input, bad broadcast", () => {
  const a = t("float32", [2], [1, 2]);
  throwsCode(() => run("Add", [a, t("int32", [2], [1, 2])]), "E_UNSUPPORTED_DTYPE", /Add_0/);
  throwsCode(() => run("Add", [a, undefined]), "E_SHAPE", /required input 1/);
  throwsCode(() => run("Mul", [a, t("float32", [3], [1, 2, 3])]), "E_SHAPE", /broadcast/);
  throwsCode(() => run("Add", [t("bool", [1], [1]), t("bool", [1], [1])]), "E_UNSUPPORTED_DTYPE");
  const bad = { dtype: "float32" as const, shape: [3], data: new Float32Array(2) };
  throwsCode(() => run("Relu", [bad]), "E_SHAPE", /elements/);
});

Deno.test("every elementwise op has an attrs list and rejects a missing first input", () => {
  for (const [name, def] of Object.entries(ELEMENTWISE_OPS)) {
    assert.ok(Array.isArray(def.attrs), name);
    if (name === "Sum" || name === "Max" || name === "Min" || name === "Mean") continue;
    throwsCode(() => def.infer([undefined], { to: 1 }, [], ctxOf(name)), "E_SHAPE");
  }
});
