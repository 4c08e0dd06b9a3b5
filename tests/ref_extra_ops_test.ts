/**
 * Hand-checked values for the reference ops added for ONNX conformance (Shrink,
 * EyeLike, TopK, GatherND, ScatterElements/Scatter, ScatterND, LRN,
 * MeanVarianceNormalization) and for the pre-opset-7 forms the importer now accepts
 * (legacy broadcast/axis, per-channel PRelu-6, Concat-1's default axis, Cast-1's type
 * names, Tile-1 rejected). The ONNX backend data checks them further when installed.
 */
import assert from "node:assert/strict";
import { REF_OPS } from "../kernels/ref/mod.ts";
import { importOnnx } from "../quantizer/onnx_import.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import { execute } from "../runtime/executor.ts";
import { EdgeqError } from "../runtime/errors.ts";
import type { Attrs } from "../runtime/graph.ts";
import type { DType, Tensor } from "../runtime/tensor.ts";
import { buildModel } from "./onnx_build.ts";

function t(dtype: DType, shape: number[], v: number[]): Tensor {
  const data = dtype === "float32"
    ? Float32Array.from(v)
    : dtype === "int32"
    ? Int32Array.from(v)
    : Float64Array.from(v);
  return { dtype, shape, data };
}
const f32 = (shape: number[], v: number[]) => t("float32", shape, v);
const i64 = (shape: number[], v: number[]) => t("int64", shape, v);

/** Runs op `op` (checking infer against run with every input constant). */
function run(
  op: string,
  ins: (Tensor | undefined)[],
  attrs: Attrs = {},
  opset = 17,
  outputs = ["y"],
): Tensor[] {
  const ctx = { node: { name: "t", op, domain: "", inputs: [], outputs, attrs }, opset };
  const metas = ins.map((x) => (x ? { dtype: x.dtype, shape: x.shape } : undefined));
  const inferred = REF_OPS[op].infer(metas, attrs, ins, ctx);
  const outs = REF_OPS[op].run(ins, attrs, ctx);
  outs.forEach((o, i) => assert.deepEqual(inferred[i], { dtype: o.dtype, shape: o.shape }));
  return outs;
}

function close(a: ArrayLike<number>, b: number[], tol = 1e-6) {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

function throwsCode(fn: () => unknown, code: string) {
  assert.throws(fn, (e: unknown) => e instanceof EdgeqError && e.code === code);
}

Deno.test("Shrink and EyeLike", () => {
  const [y] = run("Shrink", [f32([5], [-2, -0.5, 0, 0.25, 3])], { lambd: 0.4, bias: 1 });
  close(y.data, [-1, 0.5, 0, 0, 2]);
  const [e] = run("EyeLike", [f32([2, 3], [9, 9, 9, 9, 9, 9])], { k: 1, dtype: 7 });
  assert.equal(e.dtype, "int64");
  assert.deepEqual([...e.data], [0, 1, 0, 0, 0, 1]);
});

Deno.test("TopK: largest/smallest along an axis, ties by lower index, K at bind time", () => {
  const x = f32([2, 4], [1, 3, 3, 2, 5, 4, 6, 4]);
  const [v, i] = run("TopK", [x, i64([1], [2])], {}, 17, ["v", "i"]);
  assert.deepEqual(v.shape, [2, 2]);
  assert.deepEqual([...v.data], [3, 3, 6, 5]);
  assert.deepEqual([...i.data], [1, 2, 2, 0]);
  const [vs, is] = run("TopK", [x, i64([1], [1])], { axis: 0, largest: 0 }, 17, ["v", "i"]);
  assert.deepEqual([...vs.data], [1, 3, 3, 2]);
  assert.deepEqual([...is.data], [0, 0, 0, 0]);
  const [v1] = run("TopK", [x], { k: 1 }, 9, ["v", "i"]);
  assert.deepEqual([...v1.data], [3, 6]);
  const ctx = {
    node: { name: "t", op: "TopK", domain: "", inputs: ["x", "k"], outputs: ["v"], attrs: {} },
    opset: 17,
  };
  throwsCode(() => REF_OPS.TopK.infer([x, { dtype: "int64", shape: [1] }], {}, [], ctx), "E_SHAPE");
});

Deno.test("GatherND with batch_dims; ScatterElements / ScatterND with reductions", () => {
  const data = f32([2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]);
  const [g] = run("GatherND", [data, i64([2, 1], [1, 0])], { batch_dims: 1 });
  assert.deepEqual(g.shape, [2, 2]);
  assert.deepEqual([...g.data], [2, 3, 4, 5]);
  const [g2] = run("GatherND", [data, i64([2, 3], [0, 1, 1, -1, 0, 0])]);
  assert.deepEqual([...g2.data], [3, 4]);

  const base = f32([2, 3], [1, 1, 1, 1, 1, 1]);
  const idx = i64([2, 2], [0, 0, 2, -1]);
  const upd = f32([2, 2], [5, 6, 7, 8]);
  const [s] = run("ScatterElements", [base, idx, upd], { axis: 1, reduction: "add" });
  assert.deepEqual([...s.data], [12, 1, 1, 1, 1, 16]);
  const [s9] = run("Scatter", [base, idx, upd], { axis: 1 }, 9);
  assert.deepEqual([...s9.data], [6, 1, 1, 1, 1, 8]);
  throwsCode(
    () => run("ScatterElements", [base, idx, upd], { reduction: "max" }, 16),
    "E_UNSUPPORTED_ATTR",
  );

  const [nd] = run("ScatterND", [base, i64([2, 1], [1, 1]), f32([2, 3], [2, 2, 2, 3, 3, 3])], {
    reduction: "mul",
  });
  assert.deepEqual([...nd.data], [1, 1, 1, 6, 6, 6]);
  throwsCode(() => run("ScatterND", [base, i64([1, 1], [2]), f32([1, 3], [0, 0, 0])]), "E_INPUT");
});

Deno.test("LRN and MeanVarianceNormalization", () => {
  // size 3 over 3 channels at one pixel: sums of squares 1+4, 1+4+9, 4+9
  const [y] = run("LRN", [f32([1, 3, 1, 1], [1, 2, 3])], {
    size: 3,
    alpha: 0.3,
    beta: 0.5,
    bias: 2,
  });
  close(y.data, [
    1 / Math.sqrt(2 + 0.1 * 5),
    2 / Math.sqrt(2 + 0.1 * 14),
    3 / Math.sqrt(2 + 0.1 * 13),
  ]);
  const x = f32([1, 2, 1, 2], [1, 3, 10, 30]);
  const [m] = run("MeanVarianceNormalization", [x]);
  close(m.data, [-1, 1, -1, 1], 1e-6);
});

Deno.test("pre-opset-7 forms: legacy broadcast, PRelu-6, Concat-1, Cast-1, Tile-1", () => {
  const a = f32([2, 3, 2], [...Array(12).keys()]);
  const b = f32([3], [100, 200, 300]);
  const [y] = run("Add", [a, b], { broadcast: 1, axis: 1 }, 6);
  assert.deepEqual([...y.data].slice(0, 6), [100, 101, 202, 203, 304, 305]);
  throwsCode(() => run("Add", [a, b], { broadcast: 1, axis: 1 }, 7), "E_UNSUPPORTED_ATTR");
  const [p] = run("PRelu", [f32([1, 2, 2], [-1, -1, -1, 1]), f32([2], [0.5, 2])], {}, 6);
  assert.deepEqual([...p.data], [-0.5, -0.5, -2, 1]);
  const [c] = run("Concat", [f32([1, 1], [1]), f32([1, 2], [2, 3])], {}, 1);
  assert.deepEqual(c.shape, [1, 3]);
  throwsCode(() => run("Concat", [f32([1], [1])], {}, 4), "E_UNSUPPORTED_ATTR");
  const [k] = run("Cast", [f32([2], [1.7, -2.2])], { to: "INT32" }, 1);
  assert.equal(k.dtype, "int32");
  assert.deepEqual([...k.data], [1, -2]);
  throwsCode(() => run("Tile", [f32([2], [1, 2]), i64([1], [2])], {}, 5), "E_UNSUPPORTED_ATTR");
});

Deno.test("import: an opset-6 model with legacy broadcast runs; consumed_inputs is unsupported", () => {
  const bytes = buildModel({
    nodes: [{ op: "Add", inputs: ["x", "b"], outputs: ["y"], int: { broadcast: 1, axis: 1 } }],
    inputs: [["x", [1, 2, 2]]],
    outputs: [["y", [1, 2, 2]]],
    inits: [{ name: "b", dims: [2], data: [10, 20] }],
    opset: 6,
  });
  const g = prepareGraph(importOnnx(bytes));
  const out = execute(g, { x: f32([1, 2, 2], [1, 2, 3, 4]) });
  assert.deepEqual([...out.y.data], [11, 12, 23, 24]);
  const old = buildModel({
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"], ints: { consumed_inputs: [0] } }],
    inputs: [["x", [2]]],
    outputs: [["y", [2]]],
    opset: 1,
  });
  throwsCode(() => importOnnx(old), "E_UNSUPPORTED_ATTR");
});
