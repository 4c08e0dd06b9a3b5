/**
 * WebGPU elementwise/pool/layout ops and float islands against the reference.
 * Integer ops (QAdd, QRelu, pools, QuantizeLinear8, DequantizeLinear8) and layout ops
 * must match bit for bit. Float islands are f32 on the GPU and float64-then-rounded in
 * the reference; the stated tolerance is |gpu − ref| ≤ 1e-5 + 1e-5·|ref|, and correctly
 * rounded single ops (Add/Sub/Mul/Div on this adapter) must match exactly.
 */
import assert from "node:assert/strict";
import { gpuUnavailable } from "../kernels/webgpu/gpu.ts";
import { runBoth } from "../kernels/webgpu/check.ts";
import type { Attrs } from "../runtime/graph.ts";
import type { Tensor } from "../runtime/tensor.ts";

const why = await gpuUnavailable();
if (why) console.log(`webgpu op tests skipped: ${why}`);
const ignore = why !== null;

let seed = 777;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
}
const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function randQ(dtype: "int8" | "uint8", shape: number[]): Tensor {
  const n = prod(shape);
  const data = dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = dtype === "int8" ? int(-128, 127) : int(0, 255);
  return { dtype, shape, data };
}
function randF(shape: number[], scale = 3): Tensor {
  const d = new Float32Array(prod(shape));
  for (let i = 0; i < d.length; i++) d[i] = (rnd() * 2 - 1) * scale;
  return { dtype: "float32", shape, data: d };
}

function exact(ref: Tensor, gpu: Tensor, what: string): void {
  assert.deepEqual(gpu.shape, ref.shape, `${what}: shape`);
  assert.equal(gpu.dtype, ref.dtype, `${what}: dtype`);
  for (let i = 0; i < ref.data.length; i++) {
    if (!Object.is(ref.data[i], gpu.data[i]) && ref.data[i] !== gpu.data[i]) {
      assert.fail(`${what}: element ${i}: gpu ${gpu.data[i]} vs ref ${ref.data[i]}`);
    }
  }
  assert.ok(new Set(ref.data).size > 1, `${what}: degenerate case`);
}

function close(ref: Tensor, gpu: Tensor, what: string): number {
  assert.deepEqual(gpu.shape, ref.shape, `${what}: shape`);
  let worst = 0;
  for (let i = 0; i < ref.data.length; i++) {
    const d = Math.abs(gpu.data[i] - ref.data[i]);
    const tol = 1e-5 + 1e-5 * Math.abs(ref.data[i]);
    assert.ok(d <= tol, `${what}: element ${i}: gpu ${gpu.data[i]} vs ref ${ref.data[i]}`);
    worst = Math.max(worst, d);
  }
  return worst;
}

const Q = (op: string, attrs: Attrs) => ({ op, domain: "edgeq", attrs });

Deno.test({
  name: "webgpu QuantizeLinear8 / DequantizeLinear8 bit-exact (ties, saturation, NaN, ±Inf)",
  ignore,
  async fn() {
    const scale = 0.0123;
    const x = randF([3, 7, 11], 2);
    const xd = x.data as Float32Array;
    for (let i = 0; i < 40; i++) xd[i] = Math.fround((int(-200, 200) + 0.5) * Math.fround(scale));
    xd.set([NaN, Infinity, -Infinity, 1e12, -1e12, 0, -0], 40);
    for (const dtype of ["uint8", "int8"] as const) {
      const zp = dtype === "uint8" ? 131 : -7;
      const q = await runBoth(Q("QuantizeLinear8", { scale, zero_point: zp, dtype }), { x });
      exact(q.ref, q.gpu, `QuantizeLinear8 ${dtype}`);
      const d = await runBoth(Q("DequantizeLinear8", { scale: 0.37, zero_point: zp }), {
        x: randQ(dtype, [5, 13]),
      });
      exact(d.ref, d.gpu, `DequantizeLinear8 ${dtype}`);
    }
  },
});

Deno.test({
  name: "webgpu QAdd (broadcast, mixed dtypes, relu) and QRelu bit-exact",
  ignore,
  async fn() {
    const cases: [number[], number[], "int8" | "uint8", "int8" | "uint8"][] = [
      [[2, 3, 4], [3, 1], "uint8", "int8"],
      [[5, 1, 7], [1, 6, 7], "int8", "int8"],
      [[1, 9], [1, 9], "uint8", "uint8"],
    ];
    for (const [as, bs, adt, bdt] of cases) {
      const attrs: Attrs = {
        a_zp: adt === "uint8" ? int(0, 255) : int(-128, 127),
        b_zp: bdt === "uint8" ? int(0, 255) : int(-128, 127),
        a_mult: 1073741824,
        a_shift: 0,
        b_mult: int(2 ** 30, 2 ** 31 - 1),
        b_shift: int(-3, 0),
        y_mult: int(2 ** 30, 2 ** 31 - 1),
        y_shift: -19,
        y_zp: 10,
        dtype: "int8",
        qmin: 10,
      };
      const r = await runBoth(Q("QAdd", attrs), { a: randQ(adt, as), b: randQ(bdt, bs) });
      exact(r.ref, r.gpu, `QAdd [${as}]+[${bs}]`);
    }
    const r = await runBoth(Q("QRelu", { zero_point: 100 }), { x: randQ("uint8", [3, 17]) });
    exact(r.ref, r.gpu, "QRelu");
  },
});

Deno.test({
  name: "webgpu integer pools bit-exact (pads, strides, dilations, ceil_mode, count_include_pad)",
  ignore,
  async fn() {
    const geoms: Attrs[] = [
      { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      {
        kernel_shape: [2, 3],
        strides: [1, 2],
        pads: [0, 1, 1, 0],
        dilations: [2, 1],
        ceil_mode: 1,
      },
      { kernel_shape: [3], strides: [2], pads: [1, 2] },
    ];
    for (const g of geoms) {
      const shape = (g.kernel_shape as number[]).length === 1 ? [2, 3, 13] : [2, 3, 9, 8];
      const x = randQ("int8", shape);
      const mx = await runBoth(Q("QMaxPool", g), { x });
      exact(mx.ref, mx.gpu, `QMaxPool ${JSON.stringify(g)}`);
      for (const cip of [0, 1]) {
        const av = await runBoth(
          Q("QAveragePool", { ...g, count_include_pad: cip, zero_point: -9 }),
          { x },
        );
        exact(av.ref, av.gpu, `QAveragePool cip=${cip} ${JSON.stringify(g)}`);
      }
    }
    const gp = await runBoth(Q("QGlobalAveragePool", { zero_point: 77 }), {
      x: randQ("uint8", [3, 5, 7, 7]),
    });
    exact(gp.ref, gp.gpu, "QGlobalAveragePool");
  },
});

Deno.test({
  name: "webgpu layout ops bit-exact: Transpose, Gather, Concat, Pad, Slice, Reshape",
  ignore,
  async fn() {
    const x = randQ("uint8", [2, 3, 4, 5]);
    let r = await runBoth({ op: "Transpose", attrs: { perm: [0, 2, 3, 1] } }, { x });
    exact(r.ref, r.gpu, "Transpose");
    const idx: Tensor = { dtype: "int64", shape: [2], data: new Float64Array([2, -1]) };
    r = await runBoth({ op: "Gather", attrs: { axis: 2 } }, { x }, { idx });
    exact(r.ref, r.gpu, "Gather");
    r = await runBoth({ op: "Concat", attrs: { axis: 1 } }, {
      a: randF([2, 3, 4]),
      b: randF([2, 1, 4]),
    });
    exact(r.ref, r.gpu, "Concat");
    const pads: Tensor = { dtype: "int64", shape: [6], data: new Float64Array([0, 1, 0, 0, 0, 2]) };
    r = await runBoth({ op: "Pad", attrs: { mode: "constant" } }, { x: randF([2, 3, 4]) }, {
      pads,
    });
    exact(r.ref, r.gpu, "Pad");
    const t = (v: number[]): Tensor => ({
      dtype: "int64",
      shape: [v.length],
      data: new Float64Array(v),
    });
    r = await runBoth(
      { op: "Slice" },
      { x },
      { s: t([1, -1]), e: t([3, 0]), a: t([2, 3]), st: t([1, -2]) },
    );
    exact(r.ref, r.gpu, "Slice");
    r = await runBoth({ op: "Reshape" }, { x }, { shape: t([6, -1]) });
    exact(r.ref, r.gpu, "Reshape");
  },
});

Deno.test({
  name: "webgpu float islands within 1e-5 abs + 1e-5 rel (exact for single IEEE ops)",
  ignore,
  async fn() {
    const a = randF([4, 50, 64]), b = randF([64]);
    for (const op of ["Add", "Sub", "Mul", "Div"]) {
      const r = await runBoth({ op }, { a, b });
      exact(r.ref, r.gpu, op);
    }
    for (const op of ["Erf", "Exp", "Tanh", "Sigmoid", "Relu"]) {
      const r = await runBoth({ op }, { x: randF([3, 129], 4) });
      close(r.ref, r.gpu, op);
    }
    let r = await runBoth({ op: "Softmax", attrs: { axis: -1 } }, { x: randF([2, 4, 7, 50], 8) });
    close(r.ref, r.gpu, "Softmax last axis");
    r = await runBoth({ op: "Softmax", attrs: { axis: 1 } }, { x: randF([2, 5, 3], 8) });
    close(r.ref, r.gpu, "Softmax axis 1");
    r = await runBoth(
      { op: "LayerNormalization", attrs: { axis: -1, epsilon: 1e-5 } },
      { x: randF([3, 50, 64]) },
      { s: randF([64], 1), bias: randF([64], 1) },
    );
    close(r.ref, r.gpu, "LayerNormalization");
  },
});
