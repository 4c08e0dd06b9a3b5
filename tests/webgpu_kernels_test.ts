/**
 * WebGPU integer kernels against the reference, bit for bit: QConv / QGemm with int8,
 * int4, int2 and binary weights on both dot4 paths (dot4I8Packed and the forced
 * unpacking fallback), odd shapes (K = 1, channels up to 67, pads, strides, dilations,
 * groups, depthwise, 1-D), fused residual; QMatMul; and the WGSL requantization
 * helpers on edge values. Random data, never all zeros. Skips (with the reason) where
 * no WebGPU adapter exists.
 */
import assert from "node:assert/strict";
import { gpuUnavailable } from "../kernels/webgpu/gpu.ts";
import { runBoth } from "../kernels/webgpu/check.ts";
import { pack } from "../runtime/format/layouts.ts";
import type { Attrs } from "../runtime/graph.ts";
import type { Tensor } from "../runtime/tensor.ts";

const why = await gpuUnavailable();
if (why) console.log(`webgpu kernel tests skipped: ${why}`);
const ignore = why !== null;

let seed = 12345;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
}
function int(lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

type Q = "int8" | "uint8";
function randQ(dtype: Q, shape: number[], lo?: number, hi?: number): Tensor {
  const [a, b] = dtype === "int8" ? [lo ?? -128, hi ?? 127] : [lo ?? 0, hi ?? 255];
  const n = prod(shape);
  const data = dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = int(a, b);
  return { dtype, shape, data };
}

type Layout = "i8" | "i4" | "i2" | "b1";
const RANGE: Record<Layout, [number, number]> = {
  i8: [-128, 127],
  i4: [-8, 7],
  i2: [-2, 1],
  b1: [-1, 1],
};

/** Random weights of a logical shape in a layout: the W tensor and its attrs. */
function randWeights(layout: Layout, shape: number[]): { w: Tensor; attrs: Attrs } {
  const n = prod(shape), [lo, hi] = RANGE[layout];
  const v = new Int8Array(n);
  for (let i = 0; i < n; i++) v[i] = layout === "b1" ? (rnd() < 0.5 ? -1 : 1) : int(lo, hi);
  if (layout === "i8") return { w: { dtype: "int8", shape, data: v }, attrs: {} };
  const bytes = pack(layout, v, [shape[0], n / shape[0]]);
  return {
    w: { dtype: "uint8", shape: [bytes.length], data: bytes },
    attrs: { w_layout: layout, w_shape: shape },
  };
}

/** Per-channel multipliers that keep outputs spread over the range for reduction K. */
function requantAttrs(m: number, k: number, layout: Layout): Attrs {
  const mag = Math.log2(Math.sqrt(k) * 80 * (RANGE[layout][1] + 1) / 40);
  const mult: number[] = [], shift: number[] = [];
  for (let i = 0; i < m; i++) {
    mult.push(int(2 ** 30, 2 ** 31 - 1));
    shift.push(-Math.max(0, Math.round(mag)) + int(-1, 1));
  }
  return { mult, shift };
}

function bias(m: number): Tensor {
  const d = new Int32Array(m);
  for (let i = 0; i < m; i++) d[i] = int(-3000, 3000);
  return { dtype: "int32", shape: [m], data: d };
}

function same(ref: Tensor, gpu: Tensor, what: string): void {
  assert.equal(gpu.dtype, ref.dtype, `${what}: dtype`);
  assert.deepEqual(gpu.shape, ref.shape, `${what}: shape`);
  let bad = -1;
  for (let i = 0; i < ref.data.length; i++) {
    if (ref.data[i] !== gpu.data[i]) {
      bad = i;
      break;
    }
  }
  assert.equal(
    bad,
    -1,
    `${what}: element ${bad} differs: gpu ${gpu.data[bad]} vs ref ${ref.data[bad]}`,
  );
  // The case must exercise the epilogue: outputs must not be constant.
  assert.ok(new Set(ref.data).size > 1, `${what}: degenerate case (constant output)`);
}

interface ConvCase {
  name: string;
  x: [number, number, ...number[]];
  m: number;
  kernel: number[];
  group?: number;
  pads?: number[];
  strides?: number[];
  dilations?: number[];
  xdt: Q;
  ydt?: Q;
  relu?: boolean;
  residual?: boolean;
}

const CONV_CASES: ConvCase[] = [
  {
    name: "3x3 pad1 uint8 relu",
    x: [2, 3, 7, 9],
    m: 5,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    xdt: "uint8",
    relu: true,
  },
  {
    name: "depthwise s2 d2 asym pads int8",
    x: [1, 6, 9, 8],
    m: 6,
    kernel: [3, 2],
    group: 6,
    pads: [0, 1, 1, 2],
    strides: [2, 2],
    dilations: [2, 1],
    xdt: "int8",
  },
  {
    name: "grouped 1x1 int8->uint8",
    x: [2, 6, 5, 3],
    m: 9,
    kernel: [1, 1],
    group: 3,
    xdt: "int8",
    ydt: "uint8",
  },
  { name: "K=1, 67 channels", x: [1, 1, 4, 5], m: 67, kernel: [1, 1], xdt: "uint8" },
  { name: "1-D conv", x: [2, 5, 11], m: 7, kernel: [3], pads: [2, 0], xdt: "uint8" },
  {
    name: "K=333 M=67 multi-tile",
    x: [1, 37, 9, 9],
    m: 67,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    xdt: "uint8",
  },
  {
    name: "fused residual",
    x: [1, 4, 6, 6],
    m: 4,
    kernel: [3, 3],
    pads: [1, 1, 1, 1],
    xdt: "uint8",
    residual: true,
    relu: true,
  },
];

async function checkConv(cs: ConvCase, layout: Layout, dot4: boolean, xIn?: Tensor): Promise<void> {
  const group = cs.group ?? 1;
  const c = cs.x[1];
  const wshape = [cs.m, c / group, ...cs.kernel];
  const k = prod(wshape.slice(1));
  const { w, attrs: wattrs } = randWeights(layout, wshape);
  const x = xIn ?? randQ(cs.xdt, cs.x);
  const ydt = cs.ydt ?? cs.xdt;
  const xZp = xIn ? 0 : cs.xdt === "uint8" ? int(0, 255) : int(-128, 127);
  const yZp = ydt === "uint8" ? int(20, 200) : int(-60, 60);
  const attrs: Attrs = {
    kernel_shape: cs.kernel,
    group,
    x_zp: xZp,
    y_zp: yZp,
    dtype: ydt,
    ...requantAttrs(cs.m, k, layout),
    ...wattrs,
  };
  if (cs.pads) attrs.pads = cs.pads;
  if (cs.strides) attrs.strides = cs.strides;
  if (cs.dilations) attrs.dilations = cs.dilations;
  if (cs.relu) attrs.qmin = yZp;
  const feeds: Record<string, Tensor> = { x };
  const consts: Record<string, Tensor> = { w, b: bias(cs.m) };
  const order = ["x", "w", "b"];
  if (cs.residual) {
    const oh = cs.x[2], ow = cs.x[3];
    feeds.r = randQ("int8", [cs.x[0], cs.m, oh, ow]);
    order.push("r");
    Object.assign(attrs, {
      c_zp: int(-10, 10),
      r_zp: int(-10, 10),
      c_mult: int(2 ** 30, 2 ** 31 - 1),
      c_shift: -1,
      r_mult: int(2 ** 30, 2 ** 31 - 1),
      r_shift: -2,
      y_mult: int(2 ** 30, 2 ** 31 - 1),
      y_shift: -18,
    });
  }
  const { ref, gpu, kernel } = await runBoth(
    { op: "QConv", domain: "edgeq", attrs },
    feeds,
    consts,
    { dot4 },
    order,
  );
  if (layout !== "b1") assert.match(kernel, dot4 ? /dot4/ : /unpack/);
  same(ref, gpu, `QConv ${cs.name} ${layout} dot4=${dot4}`);
}

Deno.test({
  name: "webgpu QConv int8: every geometry, both dot4 paths",
  ignore,
  async fn() {
    for (const cs of CONV_CASES) {
      for (const dot4 of [true, false]) await checkConv(cs, "i8", dot4);
    }
  },
});

Deno.test({
  name: "webgpu QConv int4/int2 weights read packed, both dot4 paths",
  ignore,
  async fn() {
    for (const layout of ["i4", "i2"] as const) {
      for (const cs of [CONV_CASES[0], CONV_CASES[1], CONV_CASES[5]]) {
        for (const dot4 of [true, false]) await checkConv(cs, layout, dot4);
      }
    }
  },
});

Deno.test({
  name: "webgpu QConv binary (b1): HWGQ 2-bit codes, ±1 activations, any 8-bit input",
  ignore,
  async fn() {
    for (const cs of [CONV_CASES[0], CONV_CASES[1], CONV_CASES[2], CONV_CASES[5]]) {
      // 2-bit half-wave codes 0..3, x_zp 0
      await checkConv(cs, "b1", true, randQ("uint8", cs.x, 0, 3));
      // ±1 activations (int8), x_zp 0
      const pm = randQ("int8", cs.x);
      for (let i = 0; i < pm.data.length; i++) pm.data[i] = pm.data[i] < 0 ? -1 : 1;
      await checkConv(cs, "b1", true, pm);
    }
    // general 8-bit input with a zero point (all 9 bit planes)
    await checkConv(CONV_CASES[0], "b1", true);
  },
});

async function checkGemm(
  lead: number[],
  k: number,
  n: number,
  xdt: Q,
  layout: Layout,
  dot4: boolean,
) {
  const { w, attrs: wattrs } = randWeights(layout, [n, k]);
  const ydt: Q = xdt === "int8" ? "uint8" : "int8";
  const yZp = ydt === "uint8" ? int(30, 200) : int(-50, 50);
  const x = layout === "b1" && k > 1 ? randQ(xdt, [...lead, k], 0, 3) : randQ(xdt, [...lead, k]);
  const attrs: Attrs = {
    x_zp: layout === "b1" ? 0 : xdt === "uint8" ? int(0, 255) : int(-128, 127),
    y_zp: yZp,
    dtype: ydt,
    ...(lead[0] > 2 ? { qmin: yZp } : {}), // relu only where enough outputs stay varied
    ...requantAttrs(n, k, layout),
    ...wattrs,
  };
  const { ref, gpu } = await runBoth(
    { op: "QGemm", domain: "edgeq", attrs },
    { x },
    { w, b: bias(n) },
    { dot4 },
  );
  same(ref, gpu, `QGemm [${lead}]x${k}x${n} ${layout} dot4=${dot4}`);
}

Deno.test({
  name: "webgpu QGemm: odd shapes, all weight layouts, both dot4 paths",
  ignore,
  async fn() {
    for (const layout of ["i8", "i4", "i2", "b1"] as const) {
      for (const dot4 of layout === "b1" ? [true] : [true, false]) {
        await checkGemm([3, 5], 70, 67, "uint8", layout, dot4);
        await checkGemm([2], 33, 3, "int8", layout, dot4);
      }
    }
    await checkGemm([9], 1, 2, "uint8", "i8", true); // K = 1
    await checkGemm([9], 1, 2, "uint8", "i8", false);
  },
});

Deno.test({
  name: "webgpu QMatMul: batch broadcast, odd M/K/N, mixed dtypes",
  ignore,
  async fn() {
    const cases: [number[], number[], Q, Q][] = [
      [[2, 3, 5, 8], [3, 8, 7], "int8", "uint8"],
      [[1, 17, 33], [1, 33, 19], "uint8", "uint8"],
      [[4, 1], [1, 3], "int8", "int8"],
    ];
    for (const [as, bs, adt, bdt] of cases) {
      const k = as[as.length - 1];
      const attrs: Attrs = {
        a_zp: adt === "uint8" ? int(0, 255) : int(-128, 127),
        b_zp: bdt === "uint8" ? int(0, 255) : int(-128, 127),
        mult: int(2 ** 30, 2 ** 31 - 1),
        shift: -Math.round(Math.log2(Math.sqrt(k) * 150 * 150 / 60)),
        y_zp: int(-20, 20),
        dtype: "int8",
      };
      const { ref, gpu } = await runBoth(
        { op: "QMatMul", domain: "edgeq", attrs },
        { a: randQ(adt, as), b: randQ(bdt, bs) },
      );
      same(ref, gpu, `QMatMul [${as}]x[${bs}]`);
    }
  },
});

Deno.test({
  name: "webgpu requantization helpers: edge multipliers, every shift, saturation",
  ignore,
  async fn() {
    // QGemm with K = 1, W = 1, bias 0 makes y = requantize(x - x_zp, mult, shift, ...):
    // instead, drive MBQM through large biases: acc = bias + (x - zp) * w.
    const n = 62; // shifts -31..30, one per channel
    const mult: number[] = [], shift: number[] = [];
    for (let i = 0; i < n; i++) {
      mult.push([2 ** 30, 2 ** 31 - 1, 1, 0, int(2 ** 30, 2 ** 31 - 1)][i % 5]);
      shift.push(i - 31);
    }
    const rows = 40;
    const x = randQ("int8", [rows, 1]);
    const w: Tensor = {
      dtype: "int8",
      shape: [n, 1],
      data: new Int8Array(n).map(() => int(-128, 127)),
    };
    const edges = [-2147483648, 2147483647, -1, 0, 1, 1 << 30, -(1 << 30), 12345678, -87654321];
    const b: Tensor = {
      dtype: "int32",
      shape: [n],
      data: new Int32Array(n).map((_, i) => edges[i % edges.length]),
    };
    for (const ydt of ["int8", "uint8"] as const) {
      const { ref, gpu } = await runBoth(
        {
          op: "QGemm",
          domain: "edgeq",
          attrs: { x_zp: 0, y_zp: ydt === "int8" ? 3 : 128, dtype: ydt, mult, shift },
        },
        { x },
        { w, b },
      );
      same(ref, gpu, `requant edges ${ydt}`);
    }
  },
});
