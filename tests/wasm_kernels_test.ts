/**
 * The wasm kernels against kernels/ref, bit for bit (XNNPACK style: one parameterised
 * tester per kernel family over random data and odd shapes): QConv (1x1, 3x3, 5x5,
 * strided, padded, dilated, grouped, depthwise, fused residual, clamps), QGemm (M, N, K
 * off the tile, K = 1, extra leading dims), QAdd (same shape, broadcast), QRelu, the
 * pools, Quantize/DequantizeLinear8. Every family runs on every build (baseline SIMD,
 * relaxed SIMD with the fused dot and with the pair dot) with 1 and 2 threads.
 */
import assert from "node:assert/strict";
import {
  compareWithRef,
  nodesGraph,
  qaddAttrs,
  Rng,
  TEST_CONFIGS,
  type TestNode,
} from "../kernels/wasm/testing.ts";
import { addMultipliers, quantizedAdd, quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import { qRange } from "../kernels/ref/quant/qutil.ts";
import type { Tensor } from "../runtime/tensor.ts";
import type { BuildName } from "../kernels/wasm/instance.ts";
import { pack } from "../runtime/format/layouts.ts";
import {
  binaryCalls,
  convOptions,
  convPaths,
  gemmPaths,
  k4Paths,
  qaddOptions,
  qaddTable,
} from "../kernels/wasm/ops_int8.ts";

type Q = "int8" | "uint8";
const CONFIGS: { build: BuildName; threads: number }[] = [
  ...TEST_CONFIGS,
  { build: "relaxed-pair", threads: 1 },
  { build: "relaxed-pair", threads: 2 },
];

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function zpOf(r: Rng, dt: Q): number {
  return dt === "int8" ? r.int(-128, 127) : r.int(0, 255);
}

function randQ(r: Rng, dtype: Q, shape: number[]): Tensor {
  const n = prod(shape);
  const data = dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  const [lo, hi] = dtype === "int8" ? [-128, 127] : [0, 255];
  for (let i = 0; i < n; i++) data[i] = r.int(lo, hi);
  return { dtype, shape, data };
}

function randW(r: Rng, shape: number[]): Tensor {
  const data = new Int8Array(prod(shape));
  for (let i = 0; i < data.length; i++) data[i] = r.int(-128, 127) || 1;
  return { dtype: "int8", shape, data };
}

/** 7-bit weights (−64..63, the s8 layout's range) with the extremes frequent. */
function randW7(r: Rng, shape: number[]): Tensor {
  const data = new Int8Array(prod(shape));
  for (let i = 0; i < data.length; i++) {
    const e = r.u32() % 8;
    data[i] = e === 0 ? -64 : e === 1 ? 63 : r.int(-64, 63) || 1;
  }
  return { dtype: "int8", shape, data };
}

function randBias(r: Rng, n: number): Tensor {
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = r.int(-50000, 50000);
  return { dtype: "int32", shape: [n], data };
}

/** Multipliers that map a K-term accumulator onto roughly the 8-bit range (some > 1). */
function mults(r: Rng, n: number, k: number) {
  const mult: number[] = [], shift: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = r.u32() % 16 === 0 ? r.float(1, 4) : r.float(0.3, 3) / (Math.sqrt(k) * 128);
    const q = quantizeMultiplier(m);
    mult.push(q.mult);
    shift.push(q.shift);
  }
  return { mult, shift };
}

function clamp(r: Rng, dt: Q): { qmin?: number; qmax?: number; y_zp: number } {
  const [lo, hi] = dt === "int8" ? [-128, 127] : [0, 255];
  const y_zp = r.int(lo, hi);
  const c = r.int(0, 2);
  if (c === 0) return { y_zp };
  if (c === 1) return { y_zp, qmin: y_zp }; // fused ReLU
  const a = r.int(lo, hi), b = r.int(lo, hi);
  return { y_zp, qmin: Math.min(a, b), qmax: Math.max(a, b) };
}

async function check(name: string, nodes: TestNode[], fallbacks: string[] = []): Promise<void> {
  const { graph, feeds } = nodesGraph(nodes);
  for (const cfg of CONFIGS) {
    const { mismatches, compiled } = await compareWithRef(graph, feeds, { ...cfg, splitAll: true });
    assert.equal(compiled.build, cfg.build);
    assert.equal(compiled.threads, cfg.threads);
    assert.deepEqual(compiled.fallbacks, fallbacks, "these nodes must run on wasm kernels");
    assert.deepEqual(
      mismatches,
      [],
      `${name} ${cfg.build} ${cfg.threads} thread(s): ${JSON.stringify(mismatches.slice(0, 3))}`,
    );
  }
}

/** The residual input multipliers' own random stream (convCase). */
const WILD = new Rng(977);

function convCase(
  r: Rng,
  o: { depthwise?: boolean; pointwise?: boolean; w7?: boolean } = {},
): TestNode {
  const xdt: Q = r.pick(["int8", "uint8"] as const), ydt: Q = r.pick(["int8", "uint8"] as const);
  const N = r.int(1, 2);
  const kh = o.pointwise ? 1 : r.pick([1, 2, 3, 3, 5]), kw = o.pointwise ? 1 : r.pick([1, 3, 3, 4]);
  const dil = o.pointwise ? 1 : r.pick([1, 1, 1, 2]);
  const pads = o.pointwise ? [0, 0, 0, 0] : [r.int(0, 2), r.int(0, 2), r.int(0, 2), r.int(0, 2)];
  const strides = o.pointwise ? [1, 1] : [r.int(1, 3), r.int(1, 3)];
  const H = Math.max(r.int(1, 13), (kh - 1) * dil + 1),
    W = Math.max(r.int(1, 13), (kw - 1) * dil + 1);
  let group = 1, C: number, M: number;
  if (o.depthwise) {
    C = r.int(1, 40);
    group = C;
    M = C * r.pick([1, 1, 2]);
  } else if (r.u32() % 4 === 0) {
    group = r.pick([2, 3]);
    C = group * r.int(1, 12);
    M = group * r.int(1, 12);
  } else {
    C = r.int(1, 67);
    M = r.int(1, 67);
  }
  const w = (o.w7 ? randW7 : randW)(r, [M, C / group, kh, kw]);
  const K = (C / group) * kh * kw;
  const x = randQ(r, xdt, [N, C, H, W]);
  const attrs: Record<string, unknown> = {
    kernel_shape: [kh, kw],
    pads,
    strides,
    dilations: [dil, dil],
    group,
    x_zp: zpOf(r, xdt),
    ...mults(r, M, K),
    dtype: ydt,
    ...clamp(r, ydt),
  };
  const inputs: TestNode["inputs"] = [{ t: x }, { t: w, constant: true }];
  inputs.push(r.u32() % 4 ? { t: randBias(r, M), constant: true } : undefined);
  if (r.u32() % 3 === 0) {
    // fused residual: R has the output's shape
    const oh = Math.floor((H + pads[0] + pads[2] - (kh - 1) * dil - 1) / strides[0]) + 1;
    const ow = Math.floor((W + pads[1] + pads[3] - (kw - 1) * dil - 1) / strides[1]) + 1;
    const rdt: Q = r.pick(["int8", "uint8"] as const);
    inputs.push({ t: randQ(r, rdt, [N, M, oh, ow]) });
    const am = addMultipliers(r.float(0.01, 0.1), r.float(0.01, 0.1), r.float(0.02, 0.2));
    if (WILD.u32() % 3 === 0) {
      // input multipliers up to 3 (shift > 0: the epilogue's i64 path with a saturating
      // shift and add; the quantizer's own are <= 1/2, the i32 path); drawn from their own
      // stream so that the cases of the other tests stay as they were
      am.a = quantizeMultiplier(WILD.float(0.3, 3));
      am.b = quantizeMultiplier(WILD.float(0.3, 3));
    }
    const [lo, hi] = ydt === "int8" ? [-128, 127] : [0, 255];
    Object.assign(attrs, {
      c_zp: r.int(lo, hi),
      r_zp: zpOf(r, rdt),
      c_mult: am.a.mult,
      c_shift: am.a.shift,
      r_mult: am.b.mult,
      r_shift: am.b.shift,
      y_mult: am.y.mult,
      y_shift: am.y.shift,
    });
  }
  return { op: "QConv", attrs: attrs as TestNode["attrs"], inputs };
}

Deno.test("wasm QConv: random geometries (group 1, grouped, residual, clamps)", async () => {
  const r = new Rng(11);
  await check("QConv", Array.from({ length: 40 }, () => convCase(r)));
});

/**
 * A depthwise QConv of C channels on random codes and weights: channel m's multiplier is
 * f(m) (quantized), its bias bias[m] (no bias input when absent); dtypes and the output
 * clamp at random.
 */
function dwCase(
  r: Rng,
  o: {
    N: number;
    C: number;
    H: number;
    W: number;
    k: number[];
    pads: number[];
    strides: number[];
    dil: number;
    f: (m: number) => number;
    bias?: Int32Array;
  },
): TestNode {
  const xdt: Q = r.pick(["int8", "uint8"] as const), ydt: Q = r.pick(["int8", "uint8"] as const);
  const mult: number[] = [], shift: number[] = [];
  for (let m = 0; m < o.C; m++) {
    const q = quantizeMultiplier(o.f(m));
    mult.push(q.mult);
    shift.push(q.shift);
  }
  return {
    op: "QConv",
    attrs: {
      kernel_shape: o.k,
      pads: o.pads,
      strides: o.strides,
      dilations: [o.dil, o.dil],
      group: o.C,
      x_zp: zpOf(r, xdt),
      mult,
      shift,
      dtype: ydt,
      ...clamp(r, ydt),
    },
    inputs: [
      { t: randQ(r, xdt, [o.N, o.C, o.H, o.W]) },
      { t: randW(r, [o.C, 1, o.k[0], o.k[1]]), constant: true },
      o.bias ? { t: { dtype: "int32", shape: [o.C], data: o.bias }, constant: true } : undefined,
    ],
  };
}

/** Biases of C channels: every `every`-th near ±2^30 (the kernels' bound), the rest small. */
function dwBias(r: Rng, C: number, every: number): Int32Array {
  return new Int32Array(C).map((_, m) =>
    m % every === 0 ? (r.u32() & 1 ? 1 : -1) * (2 ** 30 - 1 - r.int(0, 3000)) : r.int(-50000, 50000)
  );
}

Deno.test("wasm QConv: SIMD depthwise kernel (strides 1/2, dilation, pads, odd widths)", async () => {
  const r = new Rng(13);
  const nodes: TestNode[] = [];
  // the last 4: 3×3, dilation 1 (the unrolled path), width strides 1, 2, 1, 2
  for (let i = 0; i < 20; i++) {
    const k3 = i >= 16;
    const C = r.int(2, 37), kh = k3 ? 3 : r.pick([1, 3, 5]), kw = k3 ? 3 : r.pick([1, 3, 5]);
    const dil = k3 ? 1 : r.pick([1, 1, 2]);
    nodes.push(dwCase(r, {
      N: r.int(1, 2),
      C,
      H: r.int((kh - 1) * dil + 1, 19),
      W: r.int((kw - 1) * dil + 1, 29),
      k: [kh, kw],
      pads: [r.int(0, 2), r.int(0, 2), r.int(0, 2), r.int(0, 2)],
      strides: [r.int(1, 3), k3 ? 1 + (i % 2) : r.int(1, 2)],
      dil,
      f: () => r.float(0.05, 1) / (Math.sqrt(kh * kw) * 128),
      bias: r.u32() % 4 ? randBias(r, C).data as Int32Array : undefined,
    }));
  }
  // today's kernel (the channel-vectorized one has its own test below)
  const before = binaryCalls.depthwiseNodes;
  convOptions.dwc8 = false;
  try {
    await check("depthwise", nodes);
  } finally {
    convOptions.dwc8 = true;
  }
  assert.equal(binaryCalls.depthwiseNodes - before, 20 * CONFIGS.length);
});

Deno.test("wasm QConv: channel-vectorized depthwise kernel (groups by shift, odd C and maps, strides 1/2)", async () => {
  const r = new Rng(71);
  const nodes: TestNode[] = [];
  const maps = [[1, 1], [3, 5], [7, 7], [14, 14], [9, 13], [4, 17], [1, 9], [12, 11]];
  // C = 1 is a group-1 conv (not depthwise)
  const chans = [2, 5, 13, 67, 8, 17, 3, 24];
  for (let i = 0; i < 16; i++) {
    const C = chans[i % chans.length];
    // the last 6 other windows (1×1, 5×5, 3×1, dilation 2: the tap loop), the rest 3×3
    const k = i < 10 ? [3, 3] : r.pick([[1, 1], [5, 5], [3, 1], [3, 3]]);
    const dil = i >= 10 && i % 2 ? 2 : 1;
    const [mh, mw] = maps[i % maps.length];
    nodes.push(dwCase(r, {
      N: r.int(1, 2),
      C,
      H: Math.max(mh, (k[0] - 1) * dil + 1),
      W: Math.max(mw, (k[1] - 1) * dil + 1),
      k,
      pads: i % 3 === 0 ? [1, 1, 1, 1] : [r.int(0, 2), r.int(0, 2), r.int(0, 2), r.int(0, 2)],
      strides: [r.int(1, 2), 1 + (i % 2)],
      dil,
      // several shifts in one layer (partial groups); shift -30 and -1 at the bounds
      f: () => {
        const e = r.u32() % 8;
        return e === 0
          ? r.float(4.7e-10, 9.2e-10)
          : e === 1
          ? r.float(0.26, 0.49)
          : r.float(0.05, 1) / (2 ** r.int(0, 4) * k[0] * k[1] * 128);
      },
      bias: i % 4 === 3 ? undefined : dwBias(r, C, 5),
    }));
  }
  const before = binaryCalls.depthwiseC8Nodes;
  await check("depthwise c8", nodes);
  assert.equal(binaryCalls.depthwiseC8Nodes - before, nodes.length * CONFIGS.length);
});

Deno.test("wasm depthwise requantization: fast and fallback channels (shift 0, -31, |bias| near 2^30)", async () => {
  const r = new Rng(43);
  const nodes: TestNode[] = [];
  for (let i = 0; i < 8; i++) {
    const C = r.int(5, 41), k = i < 6 ? 3 : 5;
    nodes.push(dwCase(r, {
      N: 1,
      C,
      H: r.int(k, 17),
      W: r.int(k, 27),
      k: [k, k],
      pads: [1, 1, 1, 1],
      strides: [r.int(1, 2), 1 + (i % 2)],
      dil: 1,
      // per channel: the usual multipliers, [0.5, 1) (shift 0), tiny (shift -31), ~2^-30
      f: (m) =>
        m % 4 === 1
          ? r.float(0.5, 0.99)
          : m % 4 === 2
          ? r.float(2.4e-10, 4.6e-10)
          : m % 4 === 3
          ? r.float(1e-9, 1.8e-9)
          : r.float(0.05, 1) / (k * 128),
      bias: dwBias(r, C, 3),
    }));
  }
  // shift −31 where h = SRDHM(acc) passes 2^30: bias 2^30 − 1 plus every tap at its
  // largest positive product (255 · 127), multiplier 2^31 − 1; the fast rounding
  // (h + 2^30) >> 31 would overflow there, so r = 31 must take the exact path (output 1).
  {
    const C = 3, q = quantizeMultiplier(0.3 / (9 * 128));
    const x = randQ(r, "uint8", [1, C, 5, 6]), w = randW(r, [C, 1, 3, 3]);
    (x.data as Uint8Array).fill(255, 0, 30);
    (w.data as Int8Array).fill(127, 0, 9);
    nodes.push({
      op: "QConv",
      attrs: {
        kernel_shape: [3, 3],
        pads: [1, 1, 1, 1],
        group: C,
        x_zp: 0,
        mult: [2 ** 31 - 1, q.mult, q.mult],
        shift: [-31, q.shift, q.shift],
        y_zp: 7,
        dtype: "uint8",
      },
      inputs: [
        { t: x },
        { t: w, constant: true },
        {
          t: { dtype: "int32", shape: [C], data: new Int32Array([2 ** 30 - 1, 99, -7]) },
          constant: true,
        },
      ],
    });
  }
  const before = binaryCalls.depthwiseNodes;
  await check("depthwise requant", nodes);
  assert.equal(binaryCalls.depthwiseNodes - before, nodes.length * CONFIGS.length);
});

Deno.test("wasm QConv: depthwise and pointwise", async () => {
  const r = new Rng(12);
  await check("QConv dw/pw", [
    ...Array.from({ length: 10 }, () => convCase(r, { depthwise: true })),
    ...Array.from({ length: 10 }, () => convCase(r, { pointwise: true })),
  ]);
});

function gemmCase(r: Rng, K: number, w7 = false): TestNode {
  const xdt: Q = r.pick(["int8", "uint8"] as const), ydt: Q = r.pick(["int8", "uint8"] as const);
  const N = r.int(1, 67);
  const lead = r.pick([[r.int(1, 70)], [r.int(1, 3), r.int(1, 9)], [1]]);
  const attrs = {
    x_zp: zpOf(r, xdt),
    ...mults(r, N, K),
    dtype: ydt,
    ...clamp(r, ydt),
  };
  return {
    op: "QGemm",
    attrs,
    inputs: [
      { t: randQ(r, xdt, [...lead, K]) },
      { t: (w7 ? randW7 : randW)(r, [N, K]), constant: true },
      r.u32() % 3 ? { t: randBias(r, N), constant: true } : undefined,
    ],
  };
}

Deno.test("wasm QGemm: odd M, N, K (K = 1 included), leading dims", async () => {
  const r = new Rng(21);
  const ks = [1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 64, 100, 257, 300];
  await check("QGemm", ks.flatMap((k) => [gemmCase(r, k), gemmCase(r, k)]));
});

Deno.test("wasm 7-bit weights (s8 layout): QConv and QGemm, odd shapes, both paths", async () => {
  const r = new Rng(23);
  const ks = [1, 2, 7, 15, 16, 17, 31, 33, 100, 257];
  const nodes = [
    ...Array.from({ length: 24 }, () => convCase(r, { w7: true })),
    ...Array.from({ length: 8 }, () => convCase(r, { w7: true, pointwise: true })),
    ...ks.flatMap((k) => [gemmCase(r, k, true), gemmCase(r, k, true)]),
  ];
  // group-1 convs and every gemm take the s8 layout; one weight at −65 forces the split one
  const expectS8 = nodes.filter((n) => n.op === "QGemm" || n.attrs.group === 1).length;
  const split = gemmCase(r, 40, true);
  (split.inputs[1]!.t.data as Int8Array)[17] = -65;
  nodes.push(split);
  const before = { ...gemmPaths }, byCols = convPaths.byCols;
  await check("s8", nodes);
  // 2 threads: the small maps take the channel-split conv path (dense taps and not)
  assert.ok(convPaths.byCols - byCols >= 8, `channel-split convs: ${convPaths.byCols - byCols}`);
  assert.equal(gemmPaths.s8 - before.s8, expectS8 * CONFIGS.length);
  assert.equal(gemmPaths.split - before.split, CONFIGS.length);
});

Deno.test("wasm k4 GEMM (QGemm, rows as pixels, row-major output): odd rows, K and N", async () => {
  const r = new Rng(53);
  const nodes: TestNode[] = [];
  for (const K of [1, 3, 4, 5, 15, 16, 17, 31, 33, 64, 100, 128, 192, 256]) {
    for (const rows of [8, 9, 13, 50, 67]) {
      if (nodes.length % 3 === 2 && rows > 13) continue; // keep the run short
      const n = gemmCase(r, K, true);
      const xdt = n.inputs[0]!.t.dtype as Q;
      n.inputs[0] = { t: randQ(r, xdt, rows === 50 ? [2, 25, K] : [rows, K]) };
      nodes.push(n);
    }
  }
  const before = k4Paths.gemm;
  await check("k4 QGemm", nodes);
  assert.equal(k4Paths.gemm - before, nodes.length * CONFIGS.length);
});

Deno.test("wasm k4 GEMM (s8 pointwise QConv): odd C, M and pixel counts, residuals, split parts", async () => {
  const r = new Rng(31);
  const nodes = Array.from({ length: 28 }, () => convCase(r, { w7: true, pointwise: true }));
  // long K and maps of 16+ pixels (the SIMD interleave of prep_k4, 8-pixel tiles)
  // C 300 on a 12×13 map: past K4_MAX_C, on k4 for wide maps
  for (
    const [C, H, W] of [[67, 5, 7], [5, 9, 9], [200, 4, 5], [16, 6, 6], [3, 17, 3], [300, 12, 13]]
  ) {
    const n = convCase(r, { w7: true, pointwise: true });
    const xdt = n.inputs[0]!.t.dtype as Q, M = n.inputs[1]!.t.shape[0];
    n.attrs.group = 1;
    n.inputs[0] = { t: randQ(r, xdt, [1, C, H, W]) };
    n.inputs[1] = { t: randW7(r, [M, C, 1, 1]), constant: true };
    if (n.inputs[3]) n.inputs[3] = { t: randQ(r, n.inputs[3].t.dtype as Q, [1, M, H, W]) };
    nodes.push(n);
  }
  const before = k4Paths.pointwise;
  await check("k4", nodes);
  const dense = nodes.filter((n) => n.attrs.group === 1).length;
  assert.ok(dense >= 25);
  assert.equal(k4Paths.pointwise - before, dense * CONFIGS.length);
});

Deno.test("wasm k4 output stage: fast and fallback channels in one call (shift 0 / > 0, big bias), with and without a residual, pixel-major and row-major", async () => {
  const r = new Rng(41);
  const nodes: TestNode[] = [];
  const geoms = [[16, 67, 9, 11], [24, 33, 8, 8], [3, 20, 13, 5], [67, 9, 4, 7]];
  for (const [i, [C, M, H, W]] of [...geoms, ...geoms].entries()) {
    // the second round with a fused residual (the fast stage's pair-table lookup)
    const res = i >= geoms.length;
    let n = convCase(r, { w7: true, pointwise: true });
    while (!!n.inputs[3] !== res) n = convCase(r, { w7: true, pointwise: true });
    const xdt = n.inputs[0]!.t.dtype as Q;
    n.attrs.group = 1;
    n.inputs[0] = { t: randQ(r, xdt, [1, C, H, W]) };
    n.inputs[1] = { t: randW7(r, [M, C, 1, 1]), constant: true };
    if (res) n.inputs[3] = { t: randQ(r, n.inputs[3]!.t.dtype as Q, [1, M, H, W]) };
    const { mult, shift, bias } = mixedChannels(r, M, C, false);
    Object.assign(n.attrs, { mult, shift });
    n.inputs[2] = { t: { dtype: "int32", shape: [M], data: bias }, constant: true };
    nodes.push(n);
  }
  // QGemm on k4 (row-major 4 × 4 blocks): blocks of 4 columns all fast, all full stage, or
  // mixed
  const gemms: TestNode[] = [];
  for (const [rows, K, N] of [[13, 40, 36], [50, 64, 67], [9, 200, 20]]) {
    const n = gemmCase(r, K, true);
    n.inputs[0] = { t: randQ(r, n.inputs[0]!.t.dtype as Q, [rows, K]) };
    n.inputs[1] = { t: randW7(r, [N, K]), constant: true };
    const { mult, shift, bias } = mixedChannels(r, N, K, true);
    Object.assign(n.attrs, { mult, shift });
    n.inputs[2] = { t: { dtype: "int32", shape: [N], data: bias }, constant: true };
    gemms.push(n);
  }
  const before = { ...k4Paths };
  await check("k4 fallback", [...nodes, ...gemms]);
  assert.equal(k4Paths.pointwise - before.pointwise, nodes.length * CONFIGS.length);
  assert.equal(k4Paths.gemm - before.gemm, gemms.length * CONFIGS.length);
});

/**
 * Per-channel requantization of M channels over a reduction of K: the usual multipliers,
 * multipliers in [0.5, 1) (shift 0), > 1, tiny (shift −31); biases around ±2^29 and
 * ±2^31 (saturation) among small ones. The kind changes per channel, or (blocks) per block
 * of 4 channels, per channel, or one channel of the block takes a full-stage kind, in
 * turn.
 */
function mixedChannels(
  r: Rng,
  M: number,
  K: number,
  blocks: boolean,
): { mult: number[]; shift: number[]; bias: Int32Array } {
  const mult: number[] = [], shift: number[] = [];
  const bias = new Int32Array(M);
  for (let m = 0; m < M; m++) {
    // blocks: one kind per block, the kind per channel, or one full-stage column per block
    const type = blocks ? (m >> 2) % 3 : 1;
    const sel = type === 0 ? m >> 2 : type === 1 ? m : (m & 3) === ((m >> 2) & 3) ? 1 : 2;
    const kind = type === 2 ? (sel === 1 ? 1 + ((m >> 4) % 3) : 0) : sel % 5;
    const f = kind === 1
      ? r.float(0.5, 0.99)
      : kind === 2
      ? r.float(1, 3)
      : kind === 3
      ? r.float(2.4e-10, 4.6e-10)
      : r.float(0.3, 3) / (Math.sqrt(K) * 128);
    const q = quantizeMultiplier(f);
    mult.push(q.mult);
    shift.push(q.shift);
    const b = sel % 7;
    bias[m] = b === 0
      ? (r.u32() & 1 ? 1 : -1) * (2 ** 29 + r.int(-5000, 5000))
      : b === 1
      ? (r.u32() & 1 ? 2147483647 - r.int(0, 3000) : -2147483648 + r.int(0, 3000))
      : r.int(-50000, 50000);
  }
  return { mult, shift, bias };
}

/** convCase (7-bit weights) with a fixed geometry: C channels, k × k window, stride s. */
function geomCase(
  r: Rng,
  o: {
    C: number;
    M: number;
    H: number;
    W: number;
    k: number;
    s: number;
    pad: number;
    dil?: number;
  },
): TestNode {
  const n = convCase(r, { w7: true });
  const { C, M, H, W, k, s, pad } = o, dil = o.dil ?? 1;
  const xdt = n.inputs[0]!.t.dtype as Q;
  Object.assign(n.attrs, {
    kernel_shape: [k, k],
    pads: [pad, pad, pad, pad],
    strides: [s, s],
    dilations: [dil, dil],
    group: 1,
    ...mults(r, M, C * k * k),
  });
  n.inputs[0] = { t: randQ(r, xdt, [1, C, H, W]) };
  n.inputs[1] = { t: randW7(r, [M, C, k, k]), constant: true };
  if (n.inputs[2]) n.inputs[2] = { t: randBias(r, M), constant: true };
  if (n.inputs[3]) {
    const oh = Math.floor((H + 2 * pad - (k - 1) * dil - 1) / s) + 1;
    const ow = Math.floor((W + 2 * pad - (k - 1) * dil - 1) / s) + 1;
    n.inputs[3] = { t: randQ(r, n.inputs[3].t.dtype as Q, [1, M, oh, ow]) };
  }
  return n;
}

Deno.test("wasm k4 GEMM (s8 windowed QConv): stems (7×7 / 3×3, stride 2), small C, odd maps", async () => {
  const r = new Rng(37);
  const geoms = [
    { C: 3, M: 64, H: 23, W: 21, k: 7, s: 2, pad: 3 }, // ResNet stem (dense taps, K = 147)
    { C: 3, M: 32, H: 17, W: 19, k: 3, s: 2, pad: 1 }, // MobileNetV2 stem (K = 27)
    { C: 1, M: 17, H: 13, W: 11, k: 3, s: 1, pad: 1 },
    { C: 16, M: 16, H: 14, W: 14, k: 3, s: 1, pad: 1 }, // ResNet-14 (K = 144)
    { C: 32, M: 35, H: 9, W: 7, k: 3, s: 1, pad: 1 }, // K = 288
    { C: 5, M: 9, H: 12, W: 13, k: 3, s: 2, pad: 0 },
    { C: 7, M: 67, H: 11, W: 9, k: 3, s: 1, pad: 2, dil: 2 },
    { C: 67, M: 13, H: 9, W: 11, k: 1, s: 2, pad: 0 }, // strided 1×1 (K = 80)
    { C: 64, M: 6, H: 7, W: 7, k: 1, s: 2, pad: 0 }, // 16 pixels: one 32-pixel chunk
    { C: 2, M: 1, H: 5, W: 3, k: 5, s: 1, pad: 2 },
    { C: 30, M: 3, H: 40, W: 37, k: 3, s: 3, pad: 1 }, // K = 270 (dense, not a multiple of 16)
  ];
  const nodes = [...geoms, ...geoms].map((g) => geomCase(r, g));
  const before = k4Paths.conv;
  // the stride-1 cases would take the direct conv (tested below)
  convOptions.direct = false;
  try {
    await check("k4 conv", nodes);
  } finally {
    convOptions.direct = true;
  }
  // at 2 threads the smallest maps may take the channel split instead
  assert.ok(k4Paths.conv - before >= nodes.length * 3, `k4 convs: ${k4Paths.conv - before}`);
});

/**
 * convCase (7-bit weights) with a stride-1 geometry: N images of C × H × W, a kh × kw
 * window, pads [top, left, bottom, right]; with or without the fused residual.
 */
function directCase(
  r: Rng,
  o: {
    N: number;
    C: number;
    M: number;
    H: number;
    W: number;
    k: number[];
    pads: number[];
    s?: number[];
  },
  res: boolean,
): TestNode {
  let n = convCase(r, { w7: true });
  while (!!n.inputs[3] !== res) n = convCase(r, { w7: true });
  const { N, C, M, H, W, pads } = o, [kh, kw] = o.k, [sh, sw] = o.s ?? [1, 1];
  const xdt = n.inputs[0]!.t.dtype as Q;
  Object.assign(n.attrs, {
    kernel_shape: [kh, kw],
    pads,
    strides: [sh, sw],
    dilations: [1, 1],
    group: 1,
    ...mults(r, M, C * kh * kw),
  });
  n.inputs[0] = { t: randQ(r, xdt, [N, C, H, W]) };
  n.inputs[1] = { t: randW7(r, [M, C, kh, kw]), constant: true };
  if (n.inputs[2]) n.inputs[2] = { t: randBias(r, M), constant: true };
  if (res) {
    const oh = Math.floor((H + pads[0] + pads[2] - kh) / sh) + 1;
    const ow = Math.floor((W + pads[1] + pads[3] - kw) / sw) + 1;
    n.inputs[3] = { t: randQ(r, n.inputs[3]!.t.dtype as Q, [N, M, oh, ow]) };
  }
  return n;
}

Deno.test("wasm direct conv (s8, stride 1): odd maps and rows (OW < 8, 1×1), C % 4, pads, residuals", async () => {
  const r = new Rng(43);
  const geoms = [
    { N: 2, C: 16, M: 16, H: 28, W: 28, k: [3, 3], pads: [1, 1, 1, 1] }, // ResNet-14 (K = 144)
    { N: 1, C: 32, M: 35, H: 14, W: 14, k: [3, 3], pads: [1, 1, 1, 1] }, // K = 288, OW % 8 = 6
    { N: 2, C: 1, M: 17, H: 13, W: 11, k: [3, 3], pads: [1, 1, 1, 1] }, // rest of 3
    { N: 2, C: 7, M: 9, H: 9, W: 7, k: [3, 3], pads: [2, 0, 1, 2] }, // OW 7 < 8, asymmetric
    { N: 2, C: 5, M: 3, H: 1, W: 1, k: [3, 3], pads: [1, 1, 1, 1] }, // 1 × 1 map
    { N: 2, C: 3, M: 11, H: 6, W: 3, k: [3, 3], pads: [1, 1, 1, 1] }, // OW 3 < 4
    { N: 2, C: 10, M: 7, H: 8, W: 12, k: [5, 5], pads: [2, 1, 2, 0] }, // K 300 > 288: k4 / gemm7
    { N: 2, C: 6, M: 7, H: 8, W: 13, k: [5, 5], pads: [0, 2, 1, 2] }, // OW 13: 2 pairs (overlap)
    { N: 2, C: 67, M: 13, H: 5, W: 19, k: [1, 3], pads: [0, 1, 0, 2] }, // OW 20, C % 4 = 3
    { N: 2, C: 2, M: 1, H: 10, W: 4, k: [3, 1], pads: [1, 0, 2, 0] }, // OW 4: 1 group
    { N: 2, C: 30, M: 33, H: 4, W: 9, k: [1, 1], pads: [1, 1, 0, 2] }, // 1×1 with pads
    { N: 2, C: 4, M: 21, H: 3, W: 17, k: [3, 3], pads: [0, 0, 0, 0] }, // OW 15: pair + pair
  ];
  const nodes = [...geoms, ...geoms].map((g, i) => directCase(r, g, i >= geoms.length));
  const before = k4Paths.direct;
  await check("direct conv", nodes);
  assert.equal(k4Paths.direct - before, (nodes.length - 2) * CONFIGS.length);
});

Deno.test("wasm direct conv (s8): strides 2 and 3 (phase planes), 1-channel tap packing", async () => {
  const r = new Rng(47);
  const geoms = [
    { N: 2, C: 16, M: 32, H: 28, W: 28, k: [3, 3], pads: [1, 1, 1, 1], s: [2, 2] }, // ResNet-14
    { N: 1, C: 32, M: 64, H: 14, W: 14, k: [3, 3], pads: [1, 1, 1, 1], s: [2, 2] }, // OW 7
    { N: 2, C: 16, M: 32, H: 28, W: 28, k: [1, 1], pads: [0, 0, 0, 0], s: [2, 2] }, // downsample
    { N: 1, C: 67, M: 13, H: 9, W: 11, k: [1, 1], pads: [0, 0, 0, 0], s: [2, 2] }, // C % 4 = 3
    { N: 2, C: 3, M: 32, H: 17, W: 19, k: [3, 3], pads: [1, 1, 1, 1], s: [2, 2] }, // MobileNetV2
    { N: 2, C: 5, M: 9, H: 12, W: 13, k: [3, 3], pads: [0, 0, 0, 0], s: [2, 2] },
    { N: 1, C: 7, M: 11, H: 23, W: 37, k: [3, 3], pads: [2, 0, 1, 2], s: [2, 1] }, // asymmetric
    { N: 1, C: 9, M: 15, H: 19, W: 41, k: [3, 1], pads: [0, 1, 1, 0], s: [1, 2] }, // OW 21
    { N: 2, C: 2, M: 5, H: 13, W: 14, k: [3, 3], pads: [1, 0, 0, 1], s: [3, 3] },
    { N: 2, C: 13, M: 7, H: 8, W: 9, k: [1, 3], pads: [1, 1, 1, 1], s: [2, 3] },
    { N: 1, C: 4, M: 17, H: 5, W: 3, k: [3, 3], pads: [1, 1, 1, 1], s: [2, 2] }, // OW 2
    { N: 2, C: 30, M: 6, H: 35, W: 45, k: [3, 3], pads: [1, 1, 1, 1], s: [2, 2] }, // OW 23
    { N: 2, C: 1, M: 16, H: 28, W: 28, k: [3, 3], pads: [1, 1, 1, 1] }, // ResNet-14 stem
    { N: 2, C: 1, M: 17, H: 29, W: 35, k: [3, 3], pads: [1, 2, 0, 1], s: [2, 2] },
    { N: 1, C: 1, M: 9, H: 31, W: 40, k: [3, 4], pads: [0, 1, 2, 3] }, // kw 4
    { N: 1, C: 1, M: 5, H: 16, W: 41, k: [2, 2], pads: [1, 0, 1, 1], s: [1, 3] },
    { N: 2, C: 1, M: 3, H: 7, W: 5, k: [3, 3], pads: [1, 1, 1, 1] }, // W < 16: scalar
    { N: 1, C: 1, M: 8, H: 9, W: 9, k: [5, 5], pads: [2, 2, 2, 2] }, // kw 5: quads per tap
  ];
  const nodes = [...geoms, ...geoms].map((g, i) => directCase(r, g, i >= geoms.length));
  const strided = (geoms.length - 4) * 2; // all but 4 (stride-1 stems)
  const packed = 5 * 2; // C = 1, kw <= 4
  const before = { ...k4Paths };
  // every strided conv on the direct path (by default only those that measured faster)
  convOptions.dcStrideAll = true;
  try {
    await check("direct conv (strided, packed)", nodes);
  } finally {
    convOptions.dcStrideAll = false;
  }
  assert.equal(k4Paths.direct - before.direct, nodes.length * CONFIGS.length);
  assert.equal(k4Paths.directPacked - before.directPacked, packed * CONFIGS.length);
  assert.equal(k4Paths.directStrided - before.directStrided, strided * CONFIGS.length);
  // by default: the strided C <= 3 stems (3×3) and 1×1 convs with C <= 32 only
  const dflt = { ...k4Paths };
  await check("direct conv (default)", nodes);
  assert.equal(k4Paths.directStrided - dflt.directStrided, 5 * 2 * CONFIGS.length);
  // with the new paths off the strided convs take im2row, the stems the quad planes
  convOptions.dcStride = convOptions.dcPack = false;
  const off = { ...k4Paths };
  try {
    await check("direct conv (switches off)", nodes);
  } finally {
    convOptions.dcStride = convOptions.dcPack = true;
  }
  assert.equal(k4Paths.directPacked - off.directPacked, 0);
  assert.equal(k4Paths.directStrided - off.directStrided, 0);
});

function addCase(r: Rng, shapeA: number[], shapeB: number[]): TestNode {
  const adt: Q = r.pick(["int8", "uint8"] as const), bdt: Q = r.pick(["int8", "uint8"] as const);
  const ydt: Q = r.pick(["int8", "uint8"] as const);
  const m = addMultipliers(r.float(0.005, 0.1), r.float(0.005, 0.1), r.float(0.01, 0.2));
  const zp = (dt: Q) => zpOf(r, dt);
  return {
    op: "QAdd",
    attrs: {
      a_zp: zp(adt),
      b_zp: zp(bdt),
      a_mult: m.a.mult,
      a_shift: m.a.shift,
      b_mult: m.b.mult,
      b_shift: m.b.shift,
      y_mult: m.y.mult,
      y_shift: m.y.shift,
      dtype: ydt,
      ...clamp(r, ydt),
    },
    inputs: [{ t: randQ(r, adt, shapeA) }, {
      t: randQ(r, bdt, shapeB),
      constant: r.u32() % 2 === 0,
    }],
  };
}

Deno.test("wasm fused residual without the pair table (the vector stage): k4, direct, im2row", async () => {
  const r = new Rng(47);
  const withRes = (o: Parameters<typeof convCase>[1]) => {
    let n = convCase(r, o);
    while (!n.inputs[3]) n = convCase(r, o);
    return n;
  };
  const nodes = [
    ...Array.from({ length: 12 }, () => withRes({ w7: true, pointwise: true })),
    ...Array.from({ length: 12 }, () => withRes({})),
    directCase(r, { N: 2, C: 16, M: 16, H: 28, W: 28, k: [3, 3], pads: [1, 1, 1, 1] }, true),
    directCase(r, { N: 2, C: 7, M: 9, H: 9, W: 7, k: [3, 3], pads: [2, 0, 1, 2] }, true),
  ];
  convOptions.pairTable = false;
  try {
    await check("residual, no pair table", nodes);
  } finally {
    convOptions.pairTable = true;
  }
});

Deno.test("wasm QAdd / QRelu: same shape, single value, broadcast", async () => {
  const r = new Rng(31);
  const nodes: TestNode[] = [
    addCase(r, [2, 5, 7, 3], [2, 5, 7, 3]),
    addCase(r, [1, 67, 9], [1, 67, 9]),
    addCase(r, [3, 5000], [3, 5000]),
    addCase(r, [4, 9], [1]),
    addCase(r, [1], [6, 11]),
    addCase(r, [5, 3, 4], [1, 3, 4]), // a trailing block over the batch
    addCase(r, [2, 3, 4], [3, 1]), // general broadcast (reference fallback)
  ];
  for (const dt of ["int8", "uint8"] as const) {
    nodes.push({
      op: "QRelu",
      attrs: { zero_point: dt === "int8" ? -5 : 77 },
      inputs: [{ t: randQ(r, dt, [3, 17, 13]) }],
    });
  }
  await check("QAdd/QRelu", nodes, ["n6_QAdd (QAdd)"]);
});

Deno.test("wasm QAdd same-shape table and SIMD paths: shifts 0, left-shifted y, extreme zero points, odd lengths", async () => {
  const r = new Rng(33);
  const nodes: TestNode[] = [];
  const qm = (m: number) => quantizeMultiplier(m);
  const lens = [1, 3, 7, 15, 16, 17, 31, 33, 63, 65, 67, 129, 3200, 197 * 192];
  for (const n of [...lens, ...new Array(8).fill(65536)]) {
    const adt: Q = r.pick(["int8", "uint8"] as const), bdt: Q = r.pick(["int8", "uint8"] as const);
    const ydt: Q = r.pick(["int8", "uint8"] as const);
    const kind = r.int(0, 3);
    // a, b <= 1/2 as the quantizer makes them (shift <= 0; 0.5 exactly gives shift 0)
    const a = qm(kind === 0 ? 0.5 : r.float(0.01, 0.5)),
      b = qm(kind === 1 ? 0.5 : r.float(0.001, 0.5));
    // y: the usual tiny multiplier, or one above 1 (a saturating left shift)
    const y = qm(kind === 2 ? r.float(1, 40) : r.float(1, 8) / 2 ** 20);
    const ext = (dt: Q) =>
      dt === "int8" ? r.pick([-128, 127, r.int(-128, 127)]) : r.pick([0, 255, r.int(0, 255)]);
    if (kind === 3) {
      // low 11 bits of the multiplier at 1024 / 2047: exact ties of SRDHM(d·2^20) for odd d
      a.mult = (a.mult & ~2047) | 1024;
      b.mult = (b.mult & ~2047) | r.pick([1024, 2047]);
    }
    const shape = r.pick([[n], [1, n]]);
    // n = 65536: every (a, b) pair of codes once (the op is a function of the two codes)
    const all = n === 65536;
    const pairs = (dt: Q, hiByte: boolean): Tensor => {
      const d = dt === "int8" ? new Int8Array(n) : new Uint8Array(n);
      for (let i = 0; i < n; i++) d[i] = hiByte ? i >> 8 : i & 255;
      return { dtype: dt, shape, data: d };
    };
    nodes.push({
      op: "QAdd",
      attrs: { ...qaddAttrs(a, b, y, ext(adt), ext(bdt)), dtype: ydt, ...clamp(r, ydt) },
      inputs: [
        { t: all ? pairs(adt, false) : randQ(r, adt, shape) },
        { t: all ? pairs(bdt, true) : randQ(r, bdt, shape), constant: r.u32() % 2 === 0 },
      ],
    });
  }
  // The SRDHM ties made visible at the output: a, b = 1024/2^31 (MBQM(d·2^20) = ⌊(d + 1)/2⌋,
  // an exact tie for every odd d) and y = 1 (mult 2^30, shift 1: the output is the sum
  // itself), so a tie rounded the wrong way changes the code. All pairs of codes.
  for (const dt of ["uint8", "int8"] as const) {
    const n = 65536, d = dt === "int8" ? new Int8Array(n) : new Uint8Array(n);
    const e = dt === "int8" ? new Int8Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) [d[i], e[i]] = [i & 255, i >> 8];
    nodes.push({
      op: "QAdd",
      attrs: {
        a_zp: dt === "int8" ? 0 : 128,
        b_zp: dt === "int8" ? 0 : 128,
        a_mult: 1024,
        a_shift: 0,
        b_mult: 1024,
        b_shift: 0,
        y_mult: 2 ** 30,
        y_shift: 1,
        y_zp: dt === "int8" ? 0 : 128,
        dtype: dt,
      },
      inputs: [{ t: { dtype: dt, shape: [n], data: d } }, {
        t: { dtype: dt, shape: [n], data: e },
      }],
    });
  }
  // the same nodes through the pair table (qadd_lut, every size) and on the SIMD
  // arithmetic (qadd)
  const lutMin = qaddOptions.lutMin;
  qaddOptions.lutMin = 0;
  try {
    await check("QAdd table", nodes);
    qaddOptions.lut = false;
    await check("QAdd SIMD", nodes);
  } finally {
    qaddOptions.lut = true;
    qaddOptions.lutMin = lutMin;
  }
});

Deno.test("QAdd pair table (qaddTable) equals quantizedAdd on every pair of codes", () => {
  const r = new Rng(34);
  const qm = (m: number) => quantizeMultiplier(m);
  for (let i = 0; i < 40; i++) {
    const adt: Q = r.pick(["int8", "uint8"] as const), bdt: Q = r.pick(["int8", "uint8"] as const);
    const ydt: Q = r.pick(["int8", "uint8"] as const);
    const kind = r.int(0, 4);
    // the quantizer's a, b <= 1/2 and tiny y; also left shifts on a, b or y, zero multipliers
    const a = qm(kind === 0 ? r.float(1, 30) : r.float(0.001, 0.5));
    const b = kind === 4
      ? { mult: 0, shift: 0 }
      : qm(kind === 1 ? r.float(0.5, 3) : r.float(0.001, 0.5));
    const y = qm(kind === 2 ? r.float(1, 40) : r.float(0.3, 8) / 2 ** 20);
    const ext = (dt: Q) =>
      dt === "int8" ? r.pick([-128, 127, r.int(-128, 127)]) : r.pick([0, 255, r.int(0, 255)]);
    const [lo, hi] = qRange(ydt);
    const c1 = r.int(lo, hi), c2 = r.int(lo, hi);
    const [qmin, qmax] = r.u32() % 3 === 0 ? [Math.min(c1, c2), Math.max(c1, c2)] : [lo, hi];
    const p = {
      azp: ext(adt),
      bzp: ext(bdt),
      am: a.mult,
      ash: a.shift,
      bm: b.mult,
      bsh: b.shift,
      ym: y.mult,
      ysh: y.shift,
      yzp: ext(ydt),
      qmin,
      qmax,
    };
    const t = qaddTable(p, adt, bdt);
    const [alo] = qRange(adt), [blo] = qRange(bdt);
    for (let qa = alo; qa < alo + 256; qa++) {
      for (let qb = blo; qb < blo + 256; qb++) {
        const want = quantizedAdd(
          qa - p.azp,
          qb - p.bzp,
          p.am,
          p.ash,
          p.bm,
          p.bsh,
          p.ym,
          p.ysh,
          p.yzp,
          qmin,
          qmax,
        );
        const got = t[((qa & 255) << 8) | (qb & 255)];
        if (got !== (want & 255)) {
          assert.fail(`case ${i} ${JSON.stringify(p)}: a ${qa} b ${qb}: ${got}, want ${want}`);
        }
      }
    }
  }
});

Deno.test("wasm pools: max, average (count_include_pad, ceil_mode), global", async () => {
  const r = new Rng(41);
  const nodes: TestNode[] = [];
  for (let i = 0; i < 16; i++) {
    const dt: Q = r.pick(["int8", "uint8"] as const);
    const k = [r.int(1, 4), r.int(1, 4)];
    const pads = [r.int(0, k[0] - 1), r.int(0, k[1] - 1), r.int(0, k[0] - 1), r.int(0, k[1] - 1)];
    const shape = [r.int(1, 2), r.int(1, 40), r.int(k[0], 12), r.int(k[1], 45)];
    const common = {
      kernel_shape: k,
      pads,
      strides: [r.int(1, 3), r.int(1, 3)],
      ceil_mode: r.int(0, 1),
    };
    const avg = i % 2 === 1;
    nodes.push({
      op: avg ? "QAveragePool" : "QMaxPool",
      attrs: avg
        ? {
          ...common,
          count_include_pad: r.int(0, 1),
          zero_point: dt === "int8" ? r.int(-128, 127) : r.int(0, 255),
        }
        : common,
      inputs: [{ t: randQ(r, dt, shape) }],
    });
  }
  for (const dt of ["int8", "uint8"] as const) {
    nodes.push({
      op: "QGlobalAveragePool",
      attrs: { zero_point: dt === "int8" ? -3 : 9 },
      inputs: [{ t: randQ(r, dt, [2, 37, 5, 7]) }],
    });
  }
  await check("pools", nodes);
});

Deno.test("wasm QuantizeLinear8 / DequantizeLinear8: ties, saturation, NaN, ±Inf", async () => {
  const r = new Rng(51);
  const n = 4099;
  const f = new Float32Array(n);
  const scale = 0.0371;
  for (let i = 0; i < n; i++) {
    f[i] = i % 7 === 0 ? Math.fround((r.int(-300, 300) + 0.5) * scale) : r.float(-20, 20);
  }
  f.set([NaN, Infinity, -Infinity, 0, -0, 1e30, -1e30], 0);
  const nodes: TestNode[] = [];
  for (const dt of ["int8", "uint8"] as const) {
    nodes.push({
      op: "QuantizeLinear8",
      attrs: { scale, zero_point: dt === "int8" ? -7 : 131, dtype: dt },
      inputs: [{ t: { dtype: "float32", shape: [n], data: f } }],
    });
    nodes.push({
      op: "DequantizeLinear8",
      attrs: { scale: 0.0123, zero_point: dt === "int8" ? 5 : 200 },
      inputs: [{ t: randQ(r, dt, [7, 301]) }],
    });
  }
  await check("quantize", nodes);
});

/** The f32 next to v away from 0 (dir 1) or towards it (dir −1); v finite, not 0. */
function f32Step(v: number, dir: 1 | -1): number {
  const b = new Float32Array([v]), u = new Uint32Array(b.buffer);
  u[0] += dir;
  return b[0];
}

Deno.test("wasm QuantizeLinear8: exact ties, their f32 neighbours, every clamp edge", async () => {
  // scale 2^-1: x / scale is exact, so v hits every tie k + 1/2 in the code range and
  // beyond it, and the f32 just below and above each (the rounding's hard cases). The
  // special values come first: the vector loop takes 16 at a time, the tail the last n % 16
  const h = Math.fround(0.5 - 2 ** -25);
  const vals = [NaN, -0, 0, h, -h, f32Step(h, -1), 2 ** -140, -(2 ** -140), 2 ** 22 + 0.5];
  vals.push(-(2 ** 22) - 0.5, 8388607.5, 1e9, -1e9, 3e38, -3e38, Infinity, -Infinity);
  for (let k = -300; k <= 300; k++) {
    const t = k + 0.5;
    vals.push(t, f32Step(t, 1), f32Step(t, -1), k);
  }
  const n = vals.length;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = vals[i] * 0.5;
  const nodes: TestNode[] = [];
  for (const [dt, zp] of [["int8", -7], ["uint8", 131], ["uint8", 0], ["int8", 127]] as const) {
    nodes.push({
      op: "QuantizeLinear8",
      attrs: { scale: 0.5, zero_point: zp, dtype: dt },
      inputs: [{ t: { dtype: "float32", shape: [n], data: x } }],
    });
  }
  await check("quantize ties", nodes);
});

/**
 * Relaxed-dot safety: activations at the edges of the i7 split (0, 127, 128, 255 for
 * uint8; -128, -1, 0, 127 for int8) against weights at ±extremes (-128, 127), with long
 * reductions (K up to 65536, the largest the op allows: |Σ| reaches 2^31 − 2^24), so
 * that any operand outside 0..127 or any saturated i16 pair would change the bits.
 */
Deno.test("wasm relaxed-dot safety: extreme activations × extreme weights, long K", async () => {
  const r = new Rng(61);
  const nodes: TestNode[] = [];
  const ext = (dt: Q, n: number, sameAll?: number) => {
    const vals = dt === "int8" ? [-128, -1, 0, 127] : [0, 127, 128, 255];
    const d = dt === "int8" ? new Int8Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) d[i] = sameAll ?? r.pick(vals);
    return d;
  };
  const extW = (n: number, all?: number) =>
    Int8Array.from({ length: n }, () => all ?? r.pick([-128, 127]));
  for (const K of [16, 100, 4096, 65536]) {
    for (const xdt of ["uint8", "int8"] as const) {
      const rows = K > 4096 ? 2 : 5, N = K > 4096 ? 3 : 7;
      const x = { dtype: xdt, shape: [rows, K], data: ext(xdt, rows * K) } as Tensor;
      const w = { dtype: "int8", shape: [N, K], data: extW(N * K) } as Tensor;
      if (K === 65536) {
        // all-max: 255·(−128)·65536 and 255·127·65536 (uint8, zp 0) — the largest sums
        x.data.fill(xdt === "uint8" ? 255 : -128);
        (w.data as Int8Array).fill(-128, 0, K);
        (w.data as Int8Array).fill(127, K, 2 * K);
      }
      const q = quantizeMultiplier(1 / (K * 255));
      nodes.push({
        op: "QGemm",
        attrs: {
          x_zp: xdt === "uint8" ? 0 : 127,
          mult: q.mult,
          shift: q.shift,
          y_zp: 0,
          dtype: "int8",
        },
        inputs: [{ t: x }, { t: w, constant: true }],
      });
    }
  }
  for (const xdt of ["uint8", "int8"] as const) {
    const C = 64;
    const x = { dtype: xdt, shape: [1, C, 6, 5], data: ext(xdt, C * 30) } as Tensor;
    const w = { dtype: "int8", shape: [9, C, 3, 3], data: extW(9 * C * 9) } as Tensor;
    const q = quantizeMultiplier(1 / (C * 9 * 255));
    nodes.push({
      op: "QConv",
      attrs: {
        kernel_shape: [3, 3],
        pads: [1, 1, 1, 1],
        x_zp: xdt === "uint8" ? 128 : -1,
        mult: q.mult,
        shift: q.shift,
        y_zp: 3,
        dtype: "uint8",
      },
      inputs: [{ t: x }, { t: w, constant: true }],
    });
  }
  // int32 saturation of acc + bias (vector and scalar epilogues): biases at the int32 edges
  for (const xdt of ["uint8", "int8"] as const) {
    const C = 16, M = 6;
    const x = { dtype: xdt, shape: [1, C, 4, 9], data: ext(xdt, C * 36) } as Tensor;
    const bias = Int32Array.from(
      { length: M },
      (_, i) => i % 2 ? 2147483647 - i * 1000 : -2147483648 + i * 1000,
    );
    const q = quantizeMultiplier(1 / 2 ** 24);
    nodes.push({
      op: "QConv",
      attrs: {
        kernel_shape: [1, 1],
        x_zp: 0,
        mult: q.mult,
        shift: q.shift,
        y_zp: 0,
        dtype: "int8",
      },
      inputs: [{ t: x }, {
        t: { dtype: "int8", shape: [M, C, 1, 1], data: extW(M * C) },
        constant: true,
      }, {
        t: { dtype: "int32", shape: [M], data: bias },
        constant: true,
      }],
    });
  }
  // acc pushes acc + bias past the int32 edge (saturates; a folded bias would wrap), on
  // both layouts: channel 0 all positive with bias near +2^31, channel 1 the mirror
  for (const [hi, lo] of [[127, -128], [63, -64]]) {
    const C = 24, q = quantizeMultiplier(1 / 2 ** 24);
    nodes.push({
      op: "QConv",
      attrs: {
        kernel_shape: [1, 1],
        x_zp: 0,
        mult: q.mult,
        shift: q.shift,
        y_zp: 0,
        dtype: "int8",
      },
      inputs: [
        { t: { dtype: "uint8", shape: [1, C, 3, 5], data: new Uint8Array(C * 15).fill(255) } },
        {
          t: {
            dtype: "int8",
            shape: [2, C, 1, 1],
            data: Int8Array.from({ length: 2 * C }, (_, i) => i < C ? hi : lo),
          },
          constant: true,
        },
        {
          t: { dtype: "int32", shape: [2], data: Int32Array.of(2 ** 31 - 1000, -(2 ** 31) + 1000) },
          constant: true,
        },
      ],
    });
  }
  // s8 layout: weights at −64/63 × activations at the 8-bit extremes, K up to 65536
  for (const K of [16, 1000, 65536]) {
    for (const xdt of ["uint8", "int8"] as const) {
      const rows = K > 4096 ? 2 : 5, N = K > 4096 ? 3 : 7;
      const x = { dtype: xdt, shape: [rows, K], data: ext(xdt, rows * K) } as Tensor;
      const wd = Int8Array.from({ length: N * K }, () => r.pick([-64, 63]));
      if (K === 65536) {
        x.data.fill(xdt === "uint8" ? 255 : -128);
        wd.fill(-64, 0, K);
        wd.fill(63, K, 2 * K);
      }
      const q = quantizeMultiplier(1 / (K * 255));
      nodes.push({
        op: "QGemm",
        attrs: { x_zp: xdt === "uint8" ? 0 : 127, mult: q.mult, shift: q.shift, y_zp: 0 },
        inputs: [{ t: x }, { t: { dtype: "int8", shape: [N, K], data: wd }, constant: true }],
      });
    }
  }
  await check("relaxed safety", nodes);
});

function packedW(r: Rng, layout: "i4" | "i2" | "b1", shape: number[]) {
  const [lo, hi] = layout === "i4" ? [-8, 7] : layout === "i2" ? [-2, 1] : [-1, 1];
  const n = prod(shape);
  const v = Int8Array.from(
    { length: n },
    () => layout === "b1" ? (r.u32() & 1 ? 1 : -1) : r.int(lo, hi),
  );
  const k = n / shape[0];
  const bytes = pack(layout, v, [shape[0], k]);
  return { t: { dtype: "uint8", shape: [bytes.length], data: bytes } as Tensor, constant: true };
}

Deno.test("wasm sub-byte weights (i4, i2, b1): QGemm and QConv read the packed bytes", async () => {
  const r = new Rng(81);
  const nodes: TestNode[] = [];
  for (const layout of ["i4", "i2", "b1"] as const) {
    for (const K of [1, 7, 31, 32, 33, 100]) {
      const g = gemmCase(r, K);
      const N = g.inputs[1]!.t.shape[0];
      g.inputs[1] = packedW(r, layout, [N, K]);
      g.attrs = { ...g.attrs, w_layout: layout, w_shape: [N, K] };
      nodes.push(g);
    }
    for (let i = 0; i < 4; i++) {
      const cv = convCase(r);
      const ws = cv.inputs[1]!.t.shape;
      cv.inputs[1] = packedW(r, layout, ws);
      cv.attrs = { ...cv.attrs, w_layout: layout, w_shape: ws };
      nodes.push(cv);
    }
  }
  await check("sub-byte", nodes);
});

Deno.test("wasm sub-byte weights stay packed in memory (i4 ≈ 1/4 of the i8 panel)", async () => {
  const r = new Rng(82);
  const K = 1024, N = 256;
  const x = randQ(r, "uint8", [4, K]);
  const base = { x_zp: 3, mult: 1 << 30, shift: -10, y_zp: 0, dtype: "uint8" };
  const i8 = nodesGraph([{
    op: "QGemm",
    attrs: base,
    inputs: [{ t: x }, { t: randW(r, [N, K]), constant: true }],
  }]);
  const i4 = nodesGraph([{
    op: "QGemm",
    attrs: { ...base, w_layout: "i4", w_shape: [N, K] },
    inputs: [{ t: x }, packedW(r, "i4", [N, K])],
  }]);
  const a = await compareWithRef(i8.graph, i8.feeds, { threads: 1 });
  const b = await compareWithRef(i4.graph, i4.feeds, { threads: 1 });
  assert.deepEqual([a.mismatches, b.mismatches], [[], []]);
  // i8: 2 bytes per weight (encoded panel); i4: the packed half byte (+ decoded scratch per call)
  assert.ok(a.compiled.memoryBytes.weights >= 2 * N * K, `${a.compiled.memoryBytes.weights}`);
  assert.ok(
    b.compiled.memoryBytes.weights < (N * K) / 2 + 64 * 1024,
    `${b.compiled.memoryBytes.weights}`,
  );
});

Deno.test("wasm binary QGemm: AND-popcount on ±1 and 2-bit activations (and the int8 path otherwise)", async () => {
  const r = new Rng(91);
  const nodes: TestNode[] = [];
  const acts: [string, Q, number[]][] = [
    ["codes", "uint8", [0, 1, 2, 3]],
    ["pm1", "int8", [-1, 1]],
    ["codes-int8", "int8", [0, 1, 2, 3]],
    ["wide", "uint8", [0, 1, 2, 3, 4]], // not 2-bit: the int8 path
  ];
  // K = 4100: 33 v128 words per row, past the 31-word byte accumulation; rows 4k+1..3 and
  // odd N exercise the 4×2 tile's edges
  for (const K of [1, 31, 32, 127, 128, 129, 1000, 4100]) {
    for (const [name, dt, vals] of acts) {
      const rows = r.pick([1, 2, 5, 7, 9, 13]), N = r.pick([1, 3, 4, 9, 33]);
      const x = randQ(r, dt, [rows, K]);
      for (let i = 0; i < x.data.length; i++) x.data[i] = r.pick(vals);
      if (name === "wide") x.data[x.data.length - 1] = 4;
      const q = quantizeMultiplier(r.float(0.5, 2) / (Math.sqrt(K) * 3));
      nodes.push({
        op: "QGemm",
        attrs: {
          x_zp: 0,
          mult: q.mult,
          shift: q.shift,
          ...clamp(r, "int8"),
          dtype: "int8",
          w_layout: "b1",
          w_shape: [N, K],
        },
        inputs: [
          { t: x },
          packedW(r, "b1", [N, K]),
          r.u32() % 2 ? { t: randBias(r, N), constant: true } : undefined,
        ],
      });
    }
  }
  const before = { ...binaryCalls };
  await check("binary", nodes);
  // 8 K values × every config: the ±1 and both 2-bit sets took the popcount path every time
  assert.equal(binaryCalls.pm1 - before.pm1, 8 * CONFIGS.length);
  assert.equal(binaryCalls.codes2 - before.codes2, 2 * 8 * CONFIGS.length);
});
