/**
 * Tests of the tensor/shape reference ops (kernels/ref/tensor_ops.ts): reductions with
 * every axes form, ArgMax/ArgMin, shape ops, Slice with negative steps, Reshape 0/-1,
 * Pad modes, layout ops, index ops, and the "must be constant at bind time" errors.
 */
import assert from "node:assert/strict";
import { TENSOR_OPS } from "../kernels/ref/tensor_ops.ts";
import type { OpContext } from "../kernels/ref/op.ts";
import type { Attrs } from "../runtime/graph.ts";
import { EdgeqError } from "../runtime/errors.ts";
import { allocData, type DType, size, strides, type Tensor } from "../runtime/tensor.ts";

// ---- helpers ------------------------------------------------------------------------

function ctxOf(op: string, opset: number, nIn: number, nOut = 1): OpContext {
  const inputs = Array.from({ length: nIn }, (_, i) => `in${i}`);
  const outputs = Array.from({ length: nOut }, (_, i) => `out${i}`);
  return { node: { name: `${op}_0`, op, domain: "", inputs, outputs, attrs: {} }, opset };
}

function t(dtype: DType, shape: number[], values: number[]): Tensor {
  const data = allocData(dtype, size(shape));
  values.forEach((v, i) => data[i] = v);
  return { dtype, shape, data };
}

const i64 = (v: number[]) => t("int64", [v.length], v);
const iota = (shape: number[], dtype: DType = "float32") =>
  t(dtype, shape, [...Array(size(shape)).keys()]);

function rand(shape: number[], seed: number, dtype: DType = "float32"): Tensor {
  const data = allocData(dtype, size(shape));
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const v = (seed / 2147483648) * 6 - 3;
    data[i] = v === 0 ? 0.5 : v;
  }
  return { dtype, shape, data };
}

interface RunOpts {
  opset?: number;
  nOut?: number;
  /** Indices of inputs passed to infer as constants (default: all). */
  consts?: number[];
}

/** Runs an op after checking that `infer` (with constant inputs) agrees with `run`. */
function run(op: string, ins: (Tensor | undefined)[], attrs: Attrs = {}, o: RunOpts = {}) {
  const ctx = ctxOf(op, o.opset ?? 17, ins.length, o.nOut ?? 1);
  const def = TENSOR_OPS[op];
  assert.ok(def, `op ${op} exists`);
  const metas = ins.map((x) => x && { dtype: x.dtype, shape: [...x.shape] });
  const consts = ins.map((x, i) => (o.consts ?? ins.map((_, k) => k)).includes(i) ? x : undefined);
  const inferred = def.infer(metas, attrs, consts, ctx);
  const outs = def.run(ins, attrs, ctx);
  assert.deepEqual(
    outs.map((y) => ({ dtype: y.dtype, shape: y.shape })),
    inferred.map((m) => ({ dtype: m.dtype, shape: m.shape })),
    `${op}: infer matches run`,
  );
  outs.forEach((y) => assert.equal(y.data.length, size(y.shape)));
  return outs;
}

function inferOnly(op: string, ins: Tensor[], attrs: Attrs, opset: number, consts: number[]) {
  const ctx = ctxOf(op, opset, ins.length);
  const metas = ins.map((x) => ({ dtype: x.dtype, shape: [...x.shape] }));
  return TENSOR_OPS[op].infer(
    metas,
    attrs,
    ins.map((x, i) => consts.includes(i) ? x : undefined),
    ctx,
  );
}

function throwsCode(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EdgeqError, `EdgeqError expected, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5, what = ""): void {
  assert.equal(got.length, want.length, `${what} length`);
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i]));
    assert.ok(ok, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** Naive reduction: groups elements by their coordinates outside `axes`. */
function naiveReduce(x: Tensor, axes: number[], f: (v: number[]) => number): number[] {
  const groups = new Map<number, number[]>();
  const st = strides(x.shape);
  const outShape = x.shape.map((d, i) => axes.includes(i) ? 1 : d);
  const ost = strides(outShape);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    x.shape.forEach((_, d) => {
      const c = Math.floor(i / st[d]) % x.shape[d];
      if (!axes.includes(d)) o += c * ost[d];
    });
    if (!groups.has(o)) groups.set(o, []);
    groups.get(o)!.push(x.data[i]);
  }
  return [...groups.keys()].sort((a, b) => a - b).map((k) => f(groups.get(k)!));
}

// ---- reductions ---------------------------------------------------------------------

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
const REDUCE: Record<string, (v: number[]) => number> = {
  ReduceSum: sum,
  ReduceMean: (v) => sum(v) / v.length,
  ReduceMax: (v) => Math.max(...v),
  ReduceMin: (v) => Math.min(...v),
  ReduceProd: (v) => v.reduce((a, b) => a * b, 1),
  ReduceL1: (v) => sum(v.map(Math.abs)),
  ReduceL2: (v) => Math.sqrt(sum(v.map((e) => e * e))),
  ReduceLogSum: (v) => Math.log(sum(v)),
  ReduceLogSumExp: (v) => Math.log(sum(v.map(Math.exp))),
  ReduceSumSquare: (v) => sum(v.map((e) => e * e)),
};

Deno.test("reductions match a naive reference on [3,4,5] for attr and input axes forms", () => {
  let seed = 1;
  for (const [op, f] of Object.entries(REDUCE)) {
    const x = rand([3, 4, 5], seed++);
    if (op === "ReduceLogSum") x.data.forEach((v, i) => x.data[i] = Math.abs(v));
    for (const axes of [[0, 2], [-1], [1]]) {
      const norm = axes.map((a) => a < 0 ? a + 3 : a);
      const want = naiveReduce(x, norm, f);
      const keepShape = x.shape.map((d, i) => norm.includes(i) ? 1 : d);
      const dropShape = x.shape.filter((_, i) => !norm.includes(i));
      // attribute form (opset 11)
      const [a] = run(op, [x], { axes }, { opset: 11 });
      assert.deepEqual(a.shape, keepShape, op);
      close(a.data, want, 1e-5, `${op} ${axes}`);
      // input form (ReduceSum from 13, the others from 18)
      const opset = op === "ReduceSum" ? 13 : 18;
      const [b] = run(op, [x, i64(axes)], { keepdims: 0 }, { opset });
      assert.deepEqual(b.shape, dropShape, op);
      close(b.data, want, 1e-5, `${op} ${axes} input`);
    }
    // all axes by default
    const [all] = run(op, [x], { keepdims: 0 }, { opset: 11 });
    assert.deepEqual(all.shape, []);
    close(all.data, [f(Array.from(x.data))], 1e-4, `${op} all`);
  }
});

Deno.test("reductions: noop_with_empty_axes, int dtypes, hand-checked values", () => {
  const x = t("float32", [2, 3], [1, 2, 3, 4, 5, 6]);
  const [s] = run("ReduceSum", [x, i64([1])], {}, { opset: 13 });
  assert.deepEqual(s.shape, [2, 1]);
  assert.deepEqual([...s.data], [6, 15]);
  const [noop] = run("ReduceSum", [x], { noop_with_empty_axes: 1 }, { opset: 13 });
  assert.deepEqual([...noop.data], [...x.data]);
  assert.deepEqual(noop.shape, [2, 3]);
  const [emp] = run("ReduceMax", [x, i64([])], {}, { opset: 18 });
  assert.deepEqual(emp.shape, [1, 1]);
  assert.deepEqual([...emp.data], [6]);
  const [mi] = run("ReduceMean", [t("int32", [4], [1, 2, 3, 5])], { keepdims: 0 }, { opset: 13 });
  assert.equal(mi.dtype, "int32");
  assert.deepEqual([...mi.data], [2]);
  const [big] = run("ReduceLogSumExp", [t("float64", [2], [1000, 1000])], {}, { opset: 13 });
  close(big.data, [1000 + Math.LN2], 1e-12);
});

Deno.test("reductions: axes form must match the opset; axes input must be constant", () => {
  const x = iota([2, 3]);
  throwsCode(() => run("ReduceSum", [x], { axes: [0] }, { opset: 13 }), "E_UNSUPPORTED_ATTR");
  throwsCode(() => run("ReduceMean", [x], { axes: [0] }, { opset: 18 }), "E_UNSUPPORTED_ATTR");
  throwsCode(() => run("ReduceMean", [x, i64([0])], {}, { opset: 13 }), "E_SHAPE", /opset 18/);
  throwsCode(
    () => inferOnly("ReduceSum", [x, i64([0])], {}, 13, []),
    "E_SHAPE",
    /input 'axes' \(tensor 'in1'\) must be constant at bind time/,
  );
  throwsCode(() => run("ReduceSum", [x, i64([2])], {}, { opset: 13 }), "E_SHAPE", /axis 2/);
  throwsCode(() => run("ReduceSum", [x, i64([0, -2])], {}, { opset: 13 }), "E_SHAPE", /repeat/);
});

Deno.test("ArgMax/ArgMin: axis, keepdims, select_last_index -> int64", () => {
  const x = t("float32", [2, 4], [1, 5, 5, 2, 7, 0, 7, 0]);
  let [y] = run("ArgMax", [x], { axis: 1 });
  assert.equal(y.dtype, "int64");
  assert.deepEqual(y.shape, [2, 1]);
  assert.deepEqual([...y.data], [1, 0]);
  [y] = run("ArgMax", [x], { axis: -1, keepdims: 0, select_last_index: 1 });
  assert.deepEqual(y.shape, [2]);
  assert.deepEqual([...y.data], [2, 2]);
  [y] = run("ArgMin", [x], { axis: 1, keepdims: 0 });
  assert.deepEqual([...y.data], [0, 1]);
  [y] = run("ArgMin", [x], { axis: 1, keepdims: 0, select_last_index: 1 });
  assert.deepEqual([...y.data], [0, 3]);
  [y] = run("ArgMax", [x], {});
  assert.deepEqual(y.shape, [1, 4]);
  assert.deepEqual([...y.data], [1, 0, 1, 0]);
});

// ---- shape ops ----------------------------------------------------------------------

Deno.test("Shape (start/end, opset 15) and Size", () => {
  const x = iota([2, 3, 5, 7]);
  assert.deepEqual([...run("Shape", [x])[0].data], [2, 3, 5, 7]);
  assert.deepEqual([...run("Shape", [x], { start: 1, end: -1 }, { opset: 15 })[0].data], [3, 5]);
  assert.deepEqual([...run("Shape", [x], { start: -10, end: 10 }, { opset: 15 })[0].data], [
    2,
    3,
    5,
    7,
  ]);
  assert.deepEqual(run("Shape", [x], { start: 3, end: 1 }, { opset: 15 })[0].shape, [0]);
  throwsCode(() => run("Shape", [x], { start: 1 }, { opset: 13 }), "E_UNSUPPORTED_ATTR");
  const [s] = run("Size", [x]);
  assert.deepEqual(s.shape, []);
  assert.equal(s.dtype, "int64");
  assert.equal(s.data[0], 210);
});

Deno.test("Reshape: 0 copies a dim, -1 is inferred, allowzero, errors", () => {
  const x = rand([2, 3, 4], 3);
  const shapeOf = (s: number[], a: Attrs = {}) => run("Reshape", [x, i64(s)], a)[0].shape;
  assert.deepEqual(shapeOf([0, -1]), [2, 12]);
  assert.deepEqual(shapeOf([-1, 0, 2]), [4, 3, 2]);
  assert.deepEqual(shapeOf([4, 0, 2]), [4, 3, 2]);
  assert.deepEqual(shapeOf([24]), [24]);
  const [y] = run("Reshape", [x, i64([6, -1])]);
  assert.deepEqual([...y.data], [...x.data]);
  assert.notEqual(y.data, x.data);
  const z = t("float32", [0, 3], []);
  assert.deepEqual(run("Reshape", [z, i64([3, 0])], { allowzero: 1 })[0].shape, [3, 0]);
  assert.deepEqual(run("Reshape", [x], { shape: [4, -1] }, { opset: 4 })[0].shape, [4, 6]);
  throwsCode(() => shapeOf([-1, -1]), "E_SHAPE", /more than one -1/);
  throwsCode(() => shapeOf([5, -1]), "E_SHAPE", /cannot reshape/);
  throwsCode(() => shapeOf([2, 3, 5]), "E_SHAPE", /cannot reshape/);
  throwsCode(() => shapeOf([0, 0, 0, 0]), "E_SHAPE", /rank/);
  throwsCode(() => shapeOf([0, -1], { allowzero: 1 }), "E_SHAPE");
  throwsCode(
    () => inferOnly("Reshape", [x, i64([6, 4])], {}, 14, []),
    "E_SHAPE",
    /input 'shape'.*must be constant at bind time/,
  );
  throwsCode(() => run("Reshape", [x, t("float32", [1], [24])]), "E_UNSUPPORTED_DTYPE");
});

Deno.test("Flatten: positive, zero and negative axis", () => {
  const x = iota([2, 3, 4, 5]);
  assert.deepEqual(run("Flatten", [x])[0].shape, [2, 60]);
  assert.deepEqual(run("Flatten", [x], { axis: 0 })[0].shape, [1, 120]);
  assert.deepEqual(run("Flatten", [x], { axis: -1 })[0].shape, [24, 5]);
  assert.deepEqual(run("Flatten", [x], { axis: 4 })[0].shape, [120, 1]);
  throwsCode(() => run("Flatten", [x], { axis: 5 }), "E_SHAPE");
});

Deno.test("Squeeze/Unsqueeze: attribute before opset 13, input after, negative axes", () => {
  const x = iota([1, 3, 1, 2]);
  assert.deepEqual(run("Squeeze", [x], {}, { opset: 11 })[0].shape, [3, 2]);
  assert.deepEqual(run("Squeeze", [x], { axes: [-2] }, { opset: 11 })[0].shape, [1, 3, 2]);
  assert.deepEqual(run("Squeeze", [x, i64([0, 2])], {}, { opset: 13 })[0].shape, [3, 2]);
  assert.deepEqual(run("Squeeze", [x], {}, { opset: 13 })[0].shape, [3, 2]);
  throwsCode(() => run("Squeeze", [x, i64([1])], {}, { opset: 13 }), "E_SHAPE", /squeeze axis 1/);
  throwsCode(() => run("Squeeze", [x], { axes: [0] }, { opset: 13 }), "E_UNSUPPORTED_ATTR");
  const y = iota([3, 4]);
  assert.deepEqual(run("Unsqueeze", [y], { axes: [0, 3] }, { opset: 11 })[0].shape, [1, 3, 4, 1]);
  assert.deepEqual(run("Unsqueeze", [y, i64([-1])], {}, { opset: 13 })[0].shape, [3, 4, 1]);
  assert.deepEqual(run("Unsqueeze", [y, i64([1, -2])], {}, { opset: 13 })[0].shape, [
    3,
    1,
    1,
    4,
  ]);
  throwsCode(() => run("Unsqueeze", [y], {}, { opset: 13 }), "E_SHAPE", /axes is required/);
  throwsCode(() => run("Unsqueeze", [y, i64([0, 0])], {}, { opset: 13 }), "E_SHAPE", /repeat/);
  throwsCode(
    () => inferOnly("Unsqueeze", [y, i64([0])], {}, 13, []),
    "E_SHAPE",
    /must be constant at bind time/,
  );
});

Deno.test("Expand: bidirectional broadcast, hand-checked", () => {
  const x = t("int32", [3, 1], [1, 2, 3]);
  const [y] = run("Expand", [x, i64([2, 1, 4])]);
  assert.deepEqual(y.shape, [2, 3, 4]);
  assert.deepEqual([...y.data].slice(0, 12), [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  assert.deepEqual(run("Expand", [x, i64([1])])[0].shape, [3, 1]);
  throwsCode(() => run("Expand", [x, i64([2, 2])]), "E_SHAPE", /broadcast/);
  throwsCode(() => inferOnly("Expand", [x, i64([3, 2])], {}, 13, []), "E_SHAPE", /constant/);
});

// ---- constants ----------------------------------------------------------------------

Deno.test("Constant: value tensor and the scalar/list forms", () => {
  const v = t("int8", [2], [3, -4]);
  const [a] = run("Constant", [], { value: v });
  assert.deepEqual(a, { dtype: "int8", shape: [2], data: Int8Array.of(3, -4) });
  assert.notEqual(a.data, v.data);
  const [f] = run("Constant", [], { value_float: 1.5 });
  assert.deepEqual(f, { dtype: "float32", shape: [], data: Float32Array.of(1.5) });
  const [fs] = run("Constant", [], { value_floats: [1, 2] });
  assert.deepEqual(fs, { dtype: "float32", shape: [2], data: Float32Array.of(1, 2) });
  const [i] = run("Constant", [], { value_int: 7 });
  assert.deepEqual(i, { dtype: "int64", shape: [], data: Float64Array.of(7) });
  const [is] = run("Constant", [], { value_ints: [7, 8, 9] });
  assert.deepEqual(is, { dtype: "int64", shape: [3], data: Float64Array.of(7, 8, 9) });
  throwsCode(() => run("Constant", [], {}), "E_UNSUPPORTED_ATTR", /exactly one/);
  throwsCode(() => run("Constant", [], { value_string: "x" }), "E_UNSUPPORTED_ATTR");
});

Deno.test("ConstantOfShape: default float 0, value tensor dtype", () => {
  const [z] = run("ConstantOfShape", [i64([2, 3])]);
  assert.deepEqual(z, { dtype: "float32", shape: [2, 3], data: new Float32Array(6) });
  const [o] = run("ConstantOfShape", [i64([3])], { value: t("int64", [1], [5]) });
  assert.deepEqual(o, { dtype: "int64", shape: [3], data: Float64Array.of(5, 5, 5) });
  const [s] = run("ConstantOfShape", [i64([])], { value: t("int32", [1], [2]) });
  assert.deepEqual(s.shape, []);
  assert.deepEqual([...s.data], [2]);
  throwsCode(() => run("ConstantOfShape", [i64([2, -1])]), "E_SHAPE", /negative/);
  throwsCode(() => inferOnly("ConstantOfShape", [i64([2])], {}, 13, []), "E_SHAPE", /constant/);
});

Deno.test("Range: float and int, negative delta, empty", () => {
  const s = (dt: DType, v: number) => t(dt, [], [v]);
  let [y] = run("Range", [s("float32", 1), s("float32", 2), s("float32", 0.25)]);
  assert.deepEqual([...y.data], [1, 1.25, 1.5, 1.75]);
  [y] = run("Range", [s("int32", 10), s("int32", 4), s("int32", -3)]);
  assert.equal(y.dtype, "int32");
  assert.deepEqual([...y.data], [10, 7]);
  [y] = run("Range", [s("int64", 3), s("int64", 1), s("int64", 1)]);
  assert.deepEqual(y.shape, [0]);
  throwsCode(() => run("Range", [s("int64", 0), s("int64", 1), s("int64", 0)]), "E_INPUT");
  throwsCode(() => run("Range", [s("int64", 0), s("int32", 1), s("int64", 1)]), "E_SHAPE");
});

// ---- Slice, Pad, Tile ---------------------------------------------------------------

Deno.test("Slice: negative steps, clamping, omitted axes, hand-checked", () => {
  const x = iota([3, 4]);
  // x[2:0:-1, ::-2]
  let [y] = run("Slice", [x, i64([2, -1]), i64([0, -1e19]), i64([0, 1]), i64([-1, -2])]);
  assert.deepEqual(y.shape, [2, 2]);
  assert.deepEqual([...y.data], [11, 9, 7, 5]);
  // x[-1:-5:-1, 1:100] with axes omitted
  [y] = run("Slice", [x, i64([-1, 1]), i64([-5, 100])]);
  assert.deepEqual(y.shape, [0, 3]);
  [y] = run("Slice", [x, i64([-1, 1]), i64([-5, 100]), undefined, i64([-1, 1])]);
  assert.deepEqual([...y.data], [9, 10, 11, 5, 6, 7, 1, 2, 3]);
  // INT64_MAX end, negative axis
  [y] = run("Slice", [x, i64([1]), i64([9223372036854775807]), i64([-1])]);
  assert.deepEqual(y.shape, [3, 3]);
  assert.deepEqual([...y.data], [1, 2, 3, 5, 6, 7, 9, 10, 11]);
  // empty when start >= end
  assert.deepEqual(run("Slice", [x, i64([3]), i64([1]), i64([1])])[0].shape, [3, 0]);
  // opset 9: attributes
  [y] = run("Slice", [x], { starts: [1], ends: [-1], axes: [1] }, { opset: 9 });
  assert.deepEqual([...y.data], [1, 2, 5, 6, 9, 10]);
  throwsCode(() => run("Slice", [x, i64([0]), i64([1]), i64([0]), i64([0])]), "E_INPUT", /step/);
  throwsCode(() => run("Slice", [x, i64([0]), i64([1]), i64([2])]), "E_SHAPE");
  throwsCode(
    () => run("Slice", [x], { starts: [0], ends: [1] }, { opset: 13 }),
    "E_UNSUPPORTED_ATTR",
  );
  throwsCode(
    () => inferOnly("Slice", [x, i64([0]), i64([1])], {}, 13, [1]),
    "E_SHAPE",
    /input 'ends'.*constant at bind time/,
  );
});

Deno.test("Pad: constant/reflect/edge/wrap match numpy.pad, opset forms", () => {
  const x = t("float32", [2, 3], [1, 2, 3, 4, 5, 6]);
  const pads = i64([1, 2, 0, 1]);
  const want: Record<string, number[]> = {
    constant: [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0],
    reflect: [6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5],
    edge: [1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6],
    wrap: [5, 6, 4, 5, 6, 4, 2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4],
  };
  for (const [mode, w] of Object.entries(want)) {
    const [y] = run("Pad", [x, pads], { mode }, { opset: 13 });
    assert.deepEqual(y.shape, [3, 6], mode);
    assert.deepEqual([...y.data], w, mode);
  }
  const [c] = run("Pad", [x, i64([0, 0, 0, 1]), t("float32", [], [9])], {}, { opset: 13 });
  assert.deepEqual([...c.data], [1, 2, 3, 9, 4, 5, 6, 9]);
  const [old] = run("Pad", [x], { pads: [0, 0, 0, 1], value: 9 }, { opset: 2 });
  assert.deepEqual([...old.data], [1, 2, 3, 9, 4, 5, 6, 9]);
  const [ax] = run("Pad", [x, i64([1, 0]), undefined, i64([-1])], {}, { opset: 18 });
  assert.deepEqual([...ax.data], [0, 1, 2, 3, 0, 4, 5, 6]);
  const [crop] = run("Pad", [x, i64([0, -1, 0, 0])], {}, { opset: 13 });
  assert.deepEqual([...crop.data], [2, 3, 5, 6]);
  throwsCode(() => run("Pad", [x, i64([1, 1])], {}, { opset: 13 }), "E_SHAPE", /pads/);
  throwsCode(() => run("Pad", [x, pads], { mode: "mirror" }, { opset: 13 }), "E_UNSUPPORTED_ATTR");
  throwsCode(() => inferOnly("Pad", [x, pads], {}, 13, []), "E_SHAPE", /'pads'.*constant/);
});

Deno.test("Tile: repeats per axis", () => {
  const x = t("int32", [2, 2], [1, 2, 3, 4]);
  const [y] = run("Tile", [x, i64([1, 2])]);
  assert.deepEqual(y.shape, [2, 4]);
  assert.deepEqual([...y.data], [1, 2, 1, 2, 3, 4, 3, 4]);
  const [z] = run("Tile", [x, i64([2, 1])]);
  assert.deepEqual([...z.data], [1, 2, 3, 4, 1, 2, 3, 4]);
  throwsCode(() => run("Tile", [x, i64([2])]), "E_SHAPE", /repeats/);
});

// ---- layout -------------------------------------------------------------------------

Deno.test("Transpose: default reverses, explicit perm on an odd shape", () => {
  const x = iota([2, 3]);
  const [y] = run("Transpose", [x]);
  assert.deepEqual(y.shape, [3, 2]);
  assert.deepEqual([...y.data], [0, 3, 1, 4, 2, 5]);
  const z = rand([2, 3, 5], 9);
  const [p] = run("Transpose", [z], { perm: [1, 2, 0] });
  assert.deepEqual(p.shape, [3, 5, 2]);
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 3; b++) {
      for (let c = 0; c < 5; c++) {
        assert.equal(p.data[b * 10 + c * 2 + a], z.data[a * 15 + b * 5 + c]);
      }
    }
  }
  throwsCode(() => run("Transpose", [z], { perm: [0, 0, 1] }), "E_SHAPE", /permutation/);
});

Deno.test("Concat: negative axis, mismatched shapes rejected", () => {
  const a = t("float32", [2, 1], [1, 2]);
  const b = t("float32", [2, 2], [3, 4, 5, 6]);
  const [y] = run("Concat", [a, b], { axis: -1 });
  assert.deepEqual(y.shape, [2, 3]);
  assert.deepEqual([...y.data], [1, 3, 4, 2, 5, 6]);
  const [z] = run("Concat", [b, b], { axis: 0 });
  assert.deepEqual([...z.data], [3, 4, 5, 6, 3, 4, 5, 6]);
  throwsCode(() => run("Concat", [a, b], { axis: 0 }), "E_SHAPE", /concat/);
  throwsCode(() => run("Concat", [a, b], {}), "E_UNSUPPORTED_ATTR", /axis/);
});

Deno.test("Split: attr (opset 11), input (13), num_outputs (18, uneven), equal", () => {
  const x = iota([2, 7]);
  const sizes = (outs: Tensor[]) => outs.map((o) => o.shape[1]);
  let outs = run("Split", [x], { axis: 1, split: [2, 5] }, { opset: 11, nOut: 2 });
  assert.deepEqual(sizes(outs), [2, 5]);
  assert.deepEqual([...outs[0].data], [0, 1, 7, 8]);
  outs = run("Split", [x, i64([3, 0, 4])], { axis: -1 }, { opset: 13, nOut: 3 });
  assert.deepEqual(sizes(outs), [3, 0, 4]);
  assert.deepEqual([...outs[2].data], [3, 4, 5, 6, 10, 11, 12, 13]);
  outs = run("Split", [x], { axis: 1, num_outputs: 4 }, { opset: 18, nOut: 4 });
  assert.deepEqual(sizes(outs), [2, 2, 2, 1]);
  assert.deepEqual([...outs[3].data], [6, 13]);
  outs = run("Split", [x], {}, { opset: 13, nOut: 2 });
  assert.deepEqual(outs.map((o) => o.shape), [[1, 7], [1, 7]]);
  throwsCode(() => run("Split", [x], { axis: 1 }, { opset: 13, nOut: 2 }), "E_SHAPE", /evenly/);
  throwsCode(() => run("Split", [x, i64([3, 3])], { axis: 1 }, { opset: 13, nOut: 2 }), "E_SHAPE");
  throwsCode(
    () => run("Split", [x], { axis: 1, split: [3, 4] }, { opset: 13, nOut: 2 }),
    "E_UNSUPPORTED_ATTR",
  );
});

Deno.test("DepthToSpace (DCR, CRD) and SpaceToDepth match numpy; round trip", () => {
  const x = iota([1, 8, 1, 2]);
  const [dcr] = run("DepthToSpace", [x], { blocksize: 2 });
  assert.deepEqual(dcr.shape, [1, 2, 2, 4]);
  assert.deepEqual([...dcr.data], [0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15]);
  const [crd] = run("DepthToSpace", [x], { blocksize: 2, mode: "CRD" });
  assert.deepEqual([...crd.data], [0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15]);
  const y = iota([1, 2, 2, 6]);
  const [s2d] = run("SpaceToDepth", [y], { blocksize: 2 });
  assert.deepEqual(s2d.shape, [1, 8, 1, 3]);
  assert.deepEqual([...s2d.data], [
    0,
    2,
    4,
    12,
    14,
    16,
    1,
    3,
    5,
    13,
    15,
    17,
    6,
    8,
    10,
    18,
    20,
    22,
    7,
    9,
    11,
    19,
    21,
    23,
  ]);
  const z = rand([2, 12, 3, 5], 4);
  const [back] = run("SpaceToDepth", [run("DepthToSpace", [z], { blocksize: 2 })[0]], {
    blocksize: 2,
  });
  assert.deepEqual([...back.data], [...z.data]);
  throwsCode(() => run("SpaceToDepth", [y], { blocksize: 4 }), "E_SHAPE", /divisible/);
});

// ---- index ops ----------------------------------------------------------------------

Deno.test("Gather: axis, negative indices, scalar index, out of range", () => {
  const x = iota([3, 4]);
  let [y] = run("Gather", [x, i64([-1, 0])]);
  assert.deepEqual(y.shape, [2, 4]);
  assert.deepEqual([...y.data], [8, 9, 10, 11, 0, 1, 2, 3]);
  [y] = run("Gather", [x, t("int32", [2, 2], [3, -4, 1, 1])], { axis: -1 });
  assert.deepEqual(y.shape, [3, 2, 2]);
  assert.deepEqual([...y.data].slice(0, 4), [3, 0, 1, 1]);
  [y] = run("Gather", [x, t("int64", [], [1])], { axis: 1 });
  assert.deepEqual(y.shape, [3]);
  assert.deepEqual([...y.data], [1, 5, 9]);
  throwsCode(() => run("Gather", [x, i64([3])]), "E_INPUT", /out of range/);
  throwsCode(() => run("Gather", [x, t("float32", [1], [0])]), "E_UNSUPPORTED_DTYPE");
});

Deno.test("GatherElements: hand-checked on both axes", () => {
  const x = t("float32", [2, 2], [1, 2, 3, 4]);
  let [y] = run("GatherElements", [x, t("int64", [2, 2], [0, 0, 1, 0])], { axis: 1 });
  assert.deepEqual([...y.data], [1, 1, 4, 3]);
  const x3 = iota([3, 3]);
  [y] = run("GatherElements", [x3, t("int32", [2, 3], [1, 2, 0, 2, 0, -3])], { axis: 0 });
  assert.deepEqual(y.shape, [2, 3]);
  assert.deepEqual([...y.data], [3, 7, 2, 6, 1, 2]);
  throwsCode(() => run("GatherElements", [x, i64([0, 1])]), "E_SHAPE");
});

Deno.test("OneHot: axis, negative indices, out of range gives off", () => {
  const idx = t("int64", [3], [0, -1, 7]);
  const [y] = run("OneHot", [idx, t("int64", [], [3]), t("float32", [2], [0, 5])]);
  assert.deepEqual(y.shape, [3, 3]);
  assert.deepEqual([...y.data], [5, 0, 0, 0, 0, 5, 0, 0, 0]);
  const [z] = run("OneHot", [idx, t("float32", [1], [3]), t("int32", [2], [-1, 1])], { axis: 0 });
  assert.equal(z.dtype, "int32");
  assert.deepEqual([...z.data], [1, -1, -1, -1, -1, -1, -1, 1, -1]);
  throwsCode(
    () => inferOnly("OneHot", [idx, i64([3]), t("float32", [2], [0, 1])], {}, 11, []),
    "E_SHAPE",
    /'depth'.*constant/,
  );
});

Deno.test("Trilu: upper/lower with k", () => {
  const x = iota([3, 4]);
  assert.deepEqual([...run("Trilu", [x, t("int64", [], [1])])[0].data], [
    0,
    1,
    2,
    3,
    0,
    0,
    6,
    7,
    0,
    0,
    0,
    11,
  ]);
  assert.deepEqual([...run("Trilu", [x, t("int64", [], [-1])], { upper: 0 })[0].data], [
    0,
    0,
    0,
    0,
    4,
    0,
    0,
    0,
    8,
    9,
    0,
    0,
  ]);
  const [u] = run("Trilu", [iota([2, 2, 2], "int32")]);
  assert.deepEqual([...u.data], [0, 1, 0, 3, 4, 5, 0, 7]);
});

Deno.test("CumSum: axis, exclusive, reverse", () => {
  const x = t("float64", [2, 3], [1, 2, 3, 4, 5, 6]);
  const ax = (a: number) => t("int32", [], [a]);
  assert.deepEqual([...run("CumSum", [x, ax(1)])[0].data], [1, 3, 6, 4, 9, 15]);
  assert.deepEqual([...run("CumSum", [x, ax(0)])[0].data], [1, 2, 3, 5, 7, 9]);
  assert.deepEqual([...run("CumSum", [x, ax(-1)], { exclusive: 1 })[0].data], [
    0,
    1,
    3,
    0,
    4,
    9,
  ]);
  assert.deepEqual([...run("CumSum", [x, ax(1)], { reverse: 1 })[0].data], [6, 5, 3, 15, 11, 6]);
  assert.deepEqual([...run("CumSum", [x, ax(1)], { reverse: 1, exclusive: 1 })[0].data], [
    5,
    3,
    0,
    11,
    6,
    0,
  ]);
  throwsCode(() => run("CumSum", [x, ax(2)]), "E_SHAPE");
});

Deno.test("every tensor op has an attrs list and names the node in errors", () => {
  for (const [name, def] of Object.entries(TENSOR_OPS)) {
    assert.ok(Array.isArray(def.attrs), name);
    if (name === "Constant" || name === "Range" || name === "Concat") continue;
    assert.throws(
      () => def.infer([undefined], {}, [], ctxOf(name, 17, 1)),
      (e: unknown) => e instanceof EdgeqError && e.message.includes(`${name}_0`),
      name,
    );
  }
});
