/**
 * Tests of the float "nn" reference ops (kernels/ref/nn.ts) against tiny naive,
 * independent implementations and hand-computed values, on random non-zero data and
 * odd shapes. Every run also checks that `infer` agrees with `run` on dtype and shape.
 */
import assert from "node:assert/strict";
import { NN_OPS } from "../kernels/ref/nn.ts";
import type { OpContext, OpDef } from "../kernels/ref/op.ts";
import type { Attrs } from "../runtime/graph.ts";
import { EdgeqError } from "../runtime/errors.ts";
import type { DType, Tensor } from "../runtime/tensor.ts";

// ---------------------------------------------------------------- helpers

function ctxOf(op: string, attrs: Attrs, outputs: string[] = [], opset = 17): OpContext {
  return { node: { name: "t", op, domain: "", inputs: [], outputs, attrs }, opset };
}

let seed = 12345;
/** Deterministic values in [-1, 1), never exactly 0. */
function rnd(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  const v = seed / 2 ** 31 - 1;
  return v === 0 ? 0.5 : v;
}

function rand(shape: number[], dtype: "float32" | "float64" = "float32"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = rnd();
  return { dtype, shape, data };
}

function tensorOf(shape: number[], values: number[], dtype: DType = "float32"): Tensor {
  const data = dtype === "float64" ? Float64Array.from(values) : Float32Array.from(values);
  return { dtype, shape, data };
}

/** Runs an op, checking infer against run, and returns the outputs. */
function run(
  op: string,
  ins: (Tensor | undefined)[],
  attrs: Attrs = {},
  outputs: string[] = [],
  opset = 17,
): Tensor[] {
  const def: OpDef = NN_OPS[op];
  const ctx = ctxOf(op, attrs, outputs, opset);
  const metas = ins.map((t) => (t ? { dtype: t.dtype, shape: t.shape } : undefined));
  const inferred = def.infer(metas, attrs, ins.map(() => undefined), ctx);
  const outs = def.run(ins, attrs, ctx);
  assert.ok(outs.length >= 1);
  outs.forEach((o, i) => {
    assert.deepEqual(
      inferred[i],
      { dtype: o.dtype, shape: o.shape },
      `${op} infer/run output ${i}`,
    );
    assert.equal(o.data.length, o.shape.reduce((a, b) => a * b, 1));
  });
  return outs;
}

function close(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-5,
  what = "",
): void {
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) {
      assert.fail(`${what} element ${i}: got ${a}, expected ${e}`);
    }
  }
}

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EdgeqError, `expected EdgeqError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, /node 't'/);
    return true;
  });
}

// ---------------------------------------------------------------- naive references

interface ConvCase {
  n: number;
  c: number;
  h: number;
  w: number;
  m: number;
  kh: number;
  kw: number;
  s: [number, number];
  d: [number, number];
  /** [top, left, bottom, right] */
  p: [number, number, number, number];
  group: number;
  bias: boolean;
}

function naiveConv(x: Tensor, w: Tensor, b: Tensor | undefined, cc: ConvCase) {
  const { n, c, h, w: W, m, kh, kw, s, d, p, group } = cc;
  const oh = Math.floor((h + p[0] + p[2] - ((kh - 1) * d[0] + 1)) / s[0]) + 1;
  const ow = Math.floor((W + p[1] + p[3] - ((kw - 1) * d[1] + 1)) / s[1]) + 1;
  const cg = c / group, mg = m / group;
  const out = new Float64Array(n * m * oh * ow);
  let o = 0;
  for (let ni = 0; ni < n; ni++) {
    for (let mi = 0; mi < m; mi++) {
      const g = Math.floor(mi / mg);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = b ? b.data[mi] : 0;
          for (let ci = 0; ci < cg; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * s[0] - p[0] + ky * d[0], ix = ox * s[1] - p[1] + kx * d[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= W) continue;
                const xv = x.data[((ni * c + g * cg + ci) * h + iy) * W + ix];
                acc += xv * w.data[((mi * cg + ci) * kh + ky) * kw + kx];
              }
            }
          }
          out[o++] = acc;
        }
      }
    }
  }
  return { shape: [n, m, oh, ow], data: out };
}

interface DeconvCase {
  n: number;
  c: number;
  h: number;
  w: number;
  /** Output channels per group. */
  mg: number;
  kh: number;
  kw: number;
  s: [number, number];
  d: [number, number];
  p: [number, number, number, number];
  op: [number, number];
  group: number;
}

function naiveDeconv(x: Tensor, w: Tensor, b: Tensor | undefined, cc: DeconvCase) {
  const { n, c, h, w: W, mg, kh, kw, s, d, p, op, group } = cc;
  const oh = s[0] * (h - 1) + op[0] + (kh - 1) * d[0] + 1 - p[0] - p[2];
  const ow = s[1] * (W - 1) + op[1] + (kw - 1) * d[1] + 1 - p[1] - p[3];
  const m = mg * group, cg = c / group;
  const out = new Float64Array(n * m * oh * ow);
  for (let ni = 0; ni < n; ni++) {
    for (let mi = 0; mi < m; mi++) {
      for (let i = 0; i < oh * ow; i++) out[(ni * m + mi) * oh * ow + i] = b ? b.data[mi] : 0;
    }
    for (let ci = 0; ci < c; ci++) {
      const g = Math.floor(ci / cg);
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const xv = x.data[((ni * c + ci) * h + iy) * W + ix];
          for (let mm = 0; mm < mg; mm++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const oy = iy * s[0] + ky * d[0] - p[0], ox = ix * s[1] + kx * d[1] - p[1];
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                const wv = w.data[((ci * mg + mm) * kh + ky) * kw + kx];
                out[((ni * m + g * mg + mm) * oh + oy) * ow + ox] += xv * wv;
              }
            }
          }
        }
      }
    }
  }
  return { shape: [n, m, oh, ow], data: out };
}

function naiveMatMul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      out[i * n + j] = s;
    }
  }
  return out;
}

interface PoolCase {
  shape: number[];
  k: number[];
  s: number[];
  d: number[];
  /** begin..., end... */
  p: number[];
  ceil: 0 | 1;
  /** Hand-computed spatial output size. */
  out: number[];
}

/** Naive pooling over an N x C x H x W tensor (1-D cases use H = 1). */
function naivePool(x: Tensor, pc: PoolCase, kind: "max" | "avg", incl = 0) {
  const is2d = pc.shape.length === 4;
  const [n, c] = pc.shape;
  const H = is2d ? pc.shape[2] : 1, W = pc.shape[pc.shape.length - 1];
  const k = is2d ? pc.k : [1, pc.k[0]], s = is2d ? pc.s : [1, pc.s[0]];
  const d = is2d ? pc.d : [1, pc.d[0]], out = is2d ? pc.out : [1, pc.out[0]];
  const pb = is2d ? [pc.p[0], pc.p[1]] : [0, pc.p[0]],
    pe = is2d ? [pc.p[2], pc.p[3]] : [0, pc.p[1]];
  const y = new Float64Array(n * c * out[0] * out[1]);
  let o = 0;
  for (let pl = 0; pl < n * c; pl++) {
    for (let oy = 0; oy < out[0]; oy++) {
      for (let ox = 0; ox < out[1]; ox++) {
        const vals: number[] = [];
        let padded = 0;
        for (let ky = 0; ky < k[0]; ky++) {
          for (let kx = 0; kx < k[1]; kx++) {
            const iy = oy * s[0] - pb[0] + ky * d[0], ix = ox * s[1] - pb[1] + kx * d[1];
            if (iy >= -pb[0] && iy < H + pe[0] && ix >= -pb[1] && ix < W + pe[1]) padded++;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) vals.push(x.data[(pl * H + iy) * W + ix]);
          }
        }
        const sum = vals.reduce((a, b) => a + b, 0);
        y[o++] = kind === "max" ? Math.max(...vals) : sum / (incl ? padded : vals.length);
      }
    }
  }
  return y;
}

// ---------------------------------------------------------------- Conv

const CONV_CASES: ConvCase[] = [
  // 3x3 pad 1 stride 2, odd channels
  {
    n: 1,
    c: 3,
    h: 7,
    w: 7,
    m: 5,
    kh: 3,
    kw: 3,
    s: [2, 2],
    d: [1, 1],
    p: [1, 1, 1, 1],
    group: 1,
    bias: true,
  },
  // dilation 2, asymmetric pads and strides, non-square kernel, batch 2
  {
    n: 2,
    c: 5,
    h: 9,
    w: 8,
    m: 7,
    kh: 3,
    kw: 2,
    s: [1, 2],
    d: [2, 2],
    p: [1, 0, 2, 1],
    group: 1,
    bias: true,
  },
  // depthwise (group = C)
  {
    n: 1,
    c: 7,
    h: 6,
    w: 5,
    m: 7,
    kh: 3,
    kw: 3,
    s: [1, 1],
    d: [1, 1],
    p: [1, 1, 1, 1],
    group: 7,
    bias: true,
  },
  // depthwise with channel multiplier 2, stride 2
  {
    n: 2,
    c: 5,
    h: 9,
    w: 7,
    m: 10,
    kh: 3,
    kw: 3,
    s: [2, 2],
    d: [1, 1],
    p: [1, 1, 1, 1],
    group: 5,
    bias: false,
  },
  // grouped conv
  {
    n: 1,
    c: 6,
    h: 5,
    w: 5,
    m: 9,
    kh: 2,
    kw: 3,
    s: [1, 1],
    d: [1, 2],
    p: [0, 2, 1, 0],
    group: 3,
    bias: true,
  },
  // 1x1, no bias
  {
    n: 1,
    c: 13,
    h: 4,
    w: 6,
    m: 11,
    kh: 1,
    kw: 1,
    s: [1, 1],
    d: [1, 1],
    p: [0, 0, 0, 0],
    group: 1,
    bias: false,
  },
  // 7x7 stride 2 pad 3 (ResNet stem shape, small)
  {
    n: 1,
    c: 3,
    h: 17,
    w: 15,
    m: 6,
    kh: 7,
    kw: 7,
    s: [2, 2],
    d: [1, 1],
    p: [3, 3, 3, 3],
    group: 1,
    bias: false,
  },
  // deep reduction (k > GEMM block) with odd m/n
  {
    n: 1,
    c: 35,
    h: 5,
    w: 5,
    m: 5,
    kh: 3,
    kw: 3,
    s: [1, 1],
    d: [1, 1],
    p: [1, 1, 1, 1],
    group: 1,
    bias: true,
  },
];

Deno.test("Conv 2-D matches a naive convolution on odd shapes", () => {
  for (const cc of CONV_CASES) {
    const x = rand([cc.n, cc.c, cc.h, cc.w]);
    const w = rand([cc.m, cc.c / cc.group, cc.kh, cc.kw]);
    const b = cc.bias ? rand([cc.m]) : undefined;
    const attrs: Attrs = { strides: cc.s, dilations: cc.d, pads: cc.p, group: cc.group };
    const [y] = run("Conv", b ? [x, w, b] : [x, w], attrs);
    const ref = naiveConv(x, w, b, cc);
    assert.deepEqual(y.shape, ref.shape);
    assert.equal(y.dtype, "float32");
    close(y.data, ref.data, 1e-5, JSON.stringify(cc));
  }
});

Deno.test("Conv float64 keeps dtype and precision", () => {
  const cc = CONV_CASES[1];
  const x = rand([cc.n, cc.c, cc.h, cc.w], "float64");
  const w = rand([cc.m, cc.c, cc.kh, cc.kw], "float64");
  const b = rand([cc.m], "float64");
  const [y] = run("Conv", [x, w, b], { strides: cc.s, dilations: cc.d, pads: cc.p });
  assert.equal(y.dtype, "float64");
  close(y.data, naiveConv(x, w, b, cc).data, 1e-12);
});

Deno.test("Conv auto_pad SAME_UPPER / SAME_LOWER / VALID", () => {
  const x = rand([1, 3, 7, 8]);
  const w = rand([5, 3, 4, 3]);
  const base = { n: 1, c: 3, h: 7, w: 8, m: 5, kh: 4, kw: 3, d: [1, 1], group: 1, bias: false };
  // H: in 7, k 4, s 2 -> out 4, total pad 3*2+4-7 = 3; W: in 8, k 3, s 2 -> out 4, total 1.
  const cases: [string, ConvCase["p"], number[]][] = [
    ["SAME_UPPER", [1, 0, 2, 1], [4, 4]],
    ["SAME_LOWER", [2, 1, 1, 0], [4, 4]],
    ["VALID", [0, 0, 0, 0], [2, 3]],
  ];
  for (const [autoPad, p, out] of cases) {
    const [y] = run("Conv", [x, w], { auto_pad: autoPad, strides: [2, 2] });
    const ref = naiveConv(x, w, undefined, { ...base, s: [2, 2], p } as ConvCase);
    assert.deepEqual(y.shape, [1, 5, ...out], autoPad);
    close(y.data, ref.data, 1e-5, autoPad);
  }
});

Deno.test("Conv 1-D matches the 2-D conv with unit height", () => {
  const x = rand([2, 5, 11]);
  const w = rand([6, 5, 3]);
  const b = rand([6]);
  const [y] = run("Conv", [x, w, b], { pads: [2, 1], strides: [2], dilations: [2] });
  const ref = naiveConv(
    { ...x, shape: [2, 5, 1, 11] },
    { ...w, shape: [6, 5, 1, 3] },
    b,
    {
      n: 2,
      c: 5,
      h: 1,
      w: 11,
      m: 6,
      kh: 1,
      kw: 3,
      s: [1, 2],
      d: [1, 2],
      p: [0, 2, 0, 1],
      group: 1,
      bias: true,
    },
  );
  assert.deepEqual(y.shape, [2, 6, ref.shape[3]]);
  close(y.data, ref.data);
  // depthwise 1-D
  const [z] = run("Conv", [rand([1, 3, 9]), rand([3, 1, 3]), rand([3])], {
    group: 3,
    pads: [1, 1],
  });
  assert.deepEqual(z.shape, [1, 3, 9]);
});

Deno.test("Conv hand-computed: 3x3 ones kernel sums neighbourhoods", () => {
  const x = tensorOf([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const w = tensorOf([1, 1, 3, 3], new Array(9).fill(1));
  const [y] = run("Conv", [x, w, tensorOf([1], [0.5])], { pads: [1, 1, 1, 1] });
  assert.deepEqual(Array.from(y.data), [12, 21, 16, 27, 45, 33, 24, 39, 28].map((v) => v + 0.5));
});

Deno.test("Conv rejects bad inputs and attributes with EdgeqError", () => {
  const x = rand([1, 3, 5, 5]);
  const conv = (ins: Tensor[], attrs: Attrs = {}) => () => run("Conv", ins, attrs);
  throwsCode(conv([x, rand([4, 2, 3, 3])]), "E_SHAPE"); // channel mismatch
  throwsCode(conv([x, rand([4, 1, 3, 3])], { group: 3 }), "E_SHAPE"); // 4 % 3
  throwsCode(conv([x, rand([4, 3, 3, 3])], { auto_pad: "SAME" }), "E_UNSUPPORTED_ATTR");
  throwsCode(
    conv([x, rand([4, 3, 3, 3])], { auto_pad: "VALID", pads: [1, 1, 1, 1] }),
    "E_UNSUPPORTED_ATTR",
  );
  throwsCode(conv([x, rand([4, 3, 3, 3])], { pads: [1, 1] }), "E_UNSUPPORTED_ATTR");
  throwsCode(conv([x, rand([4, 3, 3, 3])], { strides: [0, 1] }), "E_UNSUPPORTED_ATTR");
  throwsCode(conv([x, rand([4, 3, 3, 3])], { group: 0 }), "E_UNSUPPORTED_ATTR");
  throwsCode(conv([x, rand([4, 3, 3, 3])], { kernel_shape: [2, 2] }), "E_SHAPE");
  throwsCode(conv([x, rand([4, 3, 7, 7])]), "E_SHAPE"); // kernel larger than input
  throwsCode(conv([x, rand([4, 3, 3, 3]), rand([5])]), "E_SHAPE"); // bias length
  throwsCode(conv([x, rand([4, 3, 3, 3], "float64")]), "E_SHAPE"); // dtype mix
  throwsCode(conv([rand([1, 3, 3, 3, 3]), rand([4, 3, 4, 1, 1])]), "E_SHAPE"); // 3-D, kernel > input
  throwsCode(conv([x, rand([4, 3, 3])]), "E_SHAPE"); // rank mismatch
  const xi: Tensor = { dtype: "int8", shape: [1, 3, 5, 5], data: new Int8Array(75) };
  throwsCode(conv([xi, rand([4, 3, 3, 3])]), "E_UNSUPPORTED_DTYPE");
  throwsCode(() => NN_OPS.Conv.run([x], {}, ctxOf("Conv", {})), "E_SHAPE"); // missing W
  const short: Tensor = { dtype: "float32", shape: [1, 3, 5, 5], data: new Float32Array(10) };
  throwsCode(() => NN_OPS.Conv.run([short, rand([4, 3, 3, 3])], {}, ctxOf("Conv", {})), "E_SHAPE");
});

// ---------------------------------------------------------------- ConvTranspose

Deno.test("ConvTranspose matches a naive scatter (pads, strides, dilations, output_padding, group)", () => {
  const cases: DeconvCase[] = [
    {
      n: 1,
      c: 3,
      h: 4,
      w: 5,
      mg: 5,
      kh: 3,
      kw: 3,
      s: [2, 2],
      d: [1, 1],
      p: [1, 1, 1, 1],
      op: [1, 0],
      group: 1,
    },
    {
      n: 2,
      c: 4,
      h: 3,
      w: 3,
      mg: 3,
      kh: 2,
      kw: 3,
      s: [3, 2],
      d: [2, 1],
      p: [0, 1, 2, 0],
      op: [0, 1],
      group: 2,
    },
    {
      n: 1,
      c: 5,
      h: 5,
      w: 4,
      mg: 1,
      kh: 3,
      kw: 3,
      s: [1, 1],
      d: [1, 1],
      p: [1, 1, 1, 1],
      op: [0, 0],
      group: 5,
    },
  ];
  for (const cc of cases) {
    const x = rand([cc.n, cc.c, cc.h, cc.w]);
    const w = rand([cc.c, cc.mg, cc.kh, cc.kw]);
    const b = rand([cc.mg * cc.group]);
    const attrs = {
      strides: cc.s,
      dilations: cc.d,
      pads: cc.p,
      output_padding: cc.op,
      group: cc.group,
    };
    const [y] = run("ConvTranspose", [x, w, b], attrs);
    const ref = naiveDeconv(x, w, b, cc);
    assert.deepEqual(y.shape, ref.shape);
    close(y.data, ref.data, 1e-5, JSON.stringify(cc));
  }
});

Deno.test("ConvTranspose hand-computed (ONNX example) and output_shape / SAME_UPPER", () => {
  const x = tensorOf([1, 1, 3, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const w = tensorOf([1, 2, 3, 3], new Array(18).fill(1));
  const [y] = run("ConvTranspose", [x, w]);
  const plane = [
    [0, 1, 3, 3, 2],
    [3, 8, 15, 12, 7],
    [9, 21, 36, 27, 15],
    [9, 20, 33, 24, 13],
    [6, 13, 21, 15, 8],
  ].flat();
  assert.deepEqual(y.shape, [1, 2, 5, 5]);
  assert.deepEqual(Array.from(y.data), [...plane, ...plane]);
  // output_shape larger than the natural size: pads -> [0, -1] split, zeros appended.
  const [z] = run("ConvTranspose", [x, w], { strides: [3, 2], output_shape: [10, 8] });
  assert.deepEqual(z.shape, [1, 2, 10, 8]);
  const ref = naiveDeconv(x, w, undefined, {
    n: 1,
    c: 1,
    h: 3,
    w: 3,
    mg: 2,
    kh: 3,
    kw: 3,
    s: [3, 2],
    d: [1, 1],
    p: [0, 0, 0, 0],
    op: [1, 1],
    group: 1,
  });
  close(z.data, ref.data);
  // SAME_UPPER: out = in * stride = 6, total padding 2*2+3-6 = 1 -> [0 begin, 1 end].
  const [u] = run("ConvTranspose", [x, w], { strides: [2, 2], auto_pad: "SAME_UPPER" });
  assert.deepEqual(u.shape, [1, 2, 6, 6]);
  const refU = naiveDeconv(x, w, undefined, {
    n: 1,
    c: 1,
    h: 3,
    w: 3,
    mg: 2,
    kh: 3,
    kw: 3,
    s: [2, 2],
    d: [1, 1],
    p: [0, 0, 1, 1],
    op: [0, 0],
    group: 1,
  });
  close(u.data, refU.data);
  // SAME_LOWER puts the odd pad at the beginning.
  const [l] = run("ConvTranspose", [x, w], { strides: [2, 2], auto_pad: "SAME_LOWER" });
  const refL = naiveDeconv(x, w, undefined, {
    n: 1,
    c: 1,
    h: 3,
    w: 3,
    mg: 2,
    kh: 3,
    kw: 3,
    s: [2, 2],
    d: [1, 1],
    p: [1, 1, 0, 0],
    op: [0, 0],
    group: 1,
  });
  close(l.data, refL.data);
  // 1-D
  const [o1] = run("ConvTranspose", [rand([1, 2, 5]), rand([2, 3, 3])], { strides: [2] });
  assert.deepEqual(o1.shape, [1, 3, 11]);
  throwsCode(() => run("ConvTranspose", [x, rand([2, 2, 3, 3])]), "E_SHAPE");
  throwsCode(
    () => run("ConvTranspose", [x, w], { output_shape: [6, 6], pads: [1, 1, 1, 1] }),
    "E_UNSUPPORTED_ATTR",
  );
});

// ---------------------------------------------------------------- Gemm / MatMul

Deno.test("Gemm: transA/transB, alpha/beta and C broadcasting", () => {
  const M = 3, K = 5, N = 7;
  const a = rand([M, K]), b = rand([K, N]);
  const at = rand([K, M]), bt = rand([N, K]);
  // transpose at/bt into row-major A/B for the reference
  const tr = (t: Tensor, r: number, c: number) => {
    const o = new Float64Array(r * c);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) o[j * r + i] = t.data[i * c + j];
    return o;
  };
  const cs: [number[], (i: number, j: number, c: Tensor) => number][] = [
    [[M, N], (i, j, c) => c.data[i * N + j]],
    [[N], (_i, j, c) => c.data[j]],
    [[1, N], (_i, j, c) => c.data[j]],
    [[M, 1], (i, _j, c) => c.data[i]],
    [[], (_i, _j, c) => c.data[0]],
  ];
  for (const [transA, transB] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
    const A = transA ? at : a, B = transB ? bt : b;
    const ad = transA ? tr(at, K, M) : a.data, bd = transB ? tr(bt, N, K) : b.data;
    const prodAB = naiveMatMul(ad, bd, M, K, N);
    for (const [cShape, cAt] of cs) {
      const c = rand(cShape);
      const attrs = { alpha: 0.75, beta: -1.5, transA, transB };
      const [y] = run("Gemm", [A, B, c], attrs);
      assert.deepEqual(y.shape, [M, N]);
      const ref = prodAB.map((v, idx) => 0.75 * v - 1.5 * cAt(Math.floor(idx / N), idx % N, c));
      close(y.data, ref, 1e-5, `trans ${transA}${transB} C ${cShape}`);
    }
    const [y0] = run("Gemm", [A, B], { transA, transB });
    close(y0.data, prodAB);
  }
  throwsCode(() => run("Gemm", [a, rand([4, N])]), "E_SHAPE");
  throwsCode(() => run("Gemm", [a, b, rand([2, N])]), "E_SHAPE");
  throwsCode(() => run("Gemm", [rand([2, 3, 4]), b]), "E_SHAPE");
  throwsCode(() => run("Gemm", [a, b], { transA: 2 }), "E_UNSUPPORTED_ATTR");
});

Deno.test("MatMul: numpy semantics (1-D promotion, batched broadcasting)", () => {
  // 2-D with sizes around the 4x4 tile edges
  for (const [m, k, n] of [[1, 1, 1], [4, 4, 4], [5, 9, 7], [13, 300, 6]]) {
    const a = rand([m, k]), b = rand([k, n]);
    const [y] = run("MatMul", [a, b]);
    assert.deepEqual(y.shape, [m, n]);
    close(y.data, naiveMatMul(a.data, b.data, m, k, n), 1e-5, `${m}x${k}x${n}`);
  }
  // 1-D x 1-D -> scalar
  const v = rand([5]), u = rand([5]);
  const [dot] = run("MatMul", [v, u]);
  assert.deepEqual(dot.shape, []);
  close(dot.data, [Array.from(v.data).reduce((s, x, i) => s + x * u.data[i], 0)]);
  // 1-D x 3-D: [K] x [2, K, N] -> [2, N]
  const b3 = rand([2, 5, 3]);
  const [y1] = run("MatMul", [v, b3]);
  assert.deepEqual(y1.shape, [2, 3]);
  for (let t = 0; t < 2; t++) {
    close(
      y1.data.slice(t * 3, t * 3 + 3),
      naiveMatMul(v.data, b3.data.slice(t * 15, t * 15 + 15), 1, 5, 3),
    );
  }
  // 3-D x 1-D: [2, M, K] x [K] -> [2, M]
  const a3 = rand([2, 3, 5]);
  const [y2] = run("MatMul", [a3, v]);
  assert.deepEqual(y2.shape, [2, 3]);
  close(y2.data, naiveMatMul(a3.data, v.data, 6, 5, 1));
  // broadcasting batch dims: [2, 1, 3, 4] x [5, 4, 6] -> [2, 5, 3, 6]
  const a4 = rand([2, 1, 3, 4]), b4 = rand([5, 4, 6]);
  const [y3] = run("MatMul", [a4, b4]);
  assert.deepEqual(y3.shape, [2, 5, 3, 6]);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 5; j++) {
      const ref = naiveMatMul(
        a4.data.slice(i * 12, i * 12 + 12),
        b4.data.slice(j * 24, j * 24 + 24),
        3,
        4,
        6,
      );
      const off = (i * 5 + j) * 18;
      close(y3.data.slice(off, off + 18), ref, 1e-5, `batch ${i},${j}`);
    }
  }
  throwsCode(() => run("MatMul", [rand([3, 4]), rand([5, 2])]), "E_SHAPE");
  throwsCode(() => run("MatMul", [rand([2, 3, 4]), rand([3, 4, 2])]), "E_SHAPE");
  throwsCode(() => run("MatMul", [rand([]), rand([3])]), "E_SHAPE");
});

// ---------------------------------------------------------------- pools

const POOL_CASES: PoolCase[] = [
  // ResNet stem max pool: 3x3 s2 p1 (on a small odd input): out floor((9+2-3)/2)+1 = 5
  { shape: [1, 3, 9, 9], k: [3, 3], s: [2, 2], d: [1, 1], p: [1, 1, 1, 1], ceil: 0, out: [5, 5] },
  // ceil_mode: (8-3)/2 = 2.5 -> 4 (floor would be 3)
  { shape: [2, 5, 8, 8], k: [3, 3], s: [2, 2], d: [1, 1], p: [0, 0, 0, 0], ceil: 1, out: [4, 4] },
  // ceil_mode with the last window dropped: H: (2+1-2)/2 -> ceil 2, but (2-1)*2 >= 2+0 -> 1;
  // W: (5-2)/2 -> ceil 3, last window starts at 4 < 5, kept (half outside)
  { shape: [1, 1, 2, 5], k: [2, 2], s: [2, 2], d: [1, 1], p: [0, 0, 1, 0], ceil: 1, out: [1, 3] },
  // dilation 2, asymmetric pads: H (7+1+0-5)/1+1 = 4, W (6+0+2-3)/2+1 = 3
  { shape: [1, 7, 7, 6], k: [3, 2], s: [1, 2], d: [2, 3], p: [1, 0, 0, 2], ceil: 0, out: [4, 3] },
  // 1-D: (11+2+1-3)/3 -> ceil 4 (start 9 < 11+2 kept)
  { shape: [2, 3, 11], k: [3], s: [3], d: [1], p: [2, 1], ceil: 1, out: [5] },
];

Deno.test("MaxPool matches a naive pool (pads, strides, dilations, ceil_mode, 1-D)", () => {
  for (const pc of POOL_CASES) {
    const x = rand(pc.shape);
    const attrs = {
      kernel_shape: pc.k,
      strides: pc.s,
      dilations: pc.d,
      pads: pc.p,
      ceil_mode: pc.ceil,
    };
    const [y] = run("MaxPool", [x], attrs);
    assert.deepEqual(y.shape, [...pc.shape.slice(0, 2), ...pc.out], JSON.stringify(pc));
    close(y.data, naivePool(x, pc, "max"), 0, JSON.stringify(pc));
  }
});

Deno.test("MaxPool hand-computed ceil_mode, auto_pad and Indices output", () => {
  const x = tensorOf([1, 1, 4, 4], Array.from({ length: 16 }, (_, i) => i + 1));
  const [y] = run("MaxPool", [x], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
  assert.deepEqual(Array.from(y.data), [11, 12, 15, 16]);
  // SAME_UPPER: out 2x2, total pad (2-1)*2+3-4 = 1 -> end; SAME_LOWER -> begin.
  const [u] = run("MaxPool", [x], {
    kernel_shape: [3, 3],
    strides: [2, 2],
    auto_pad: "SAME_UPPER",
  });
  assert.deepEqual(Array.from(u.data), [11, 12, 15, 16]);
  const [l] = run("MaxPool", [x], {
    kernel_shape: [3, 3],
    strides: [2, 2],
    auto_pad: "SAME_LOWER",
  });
  assert.deepEqual(Array.from(l.data), [6, 8, 14, 16]);
  const [v] = run("MaxPool", [x], { kernel_shape: [2, 2], auto_pad: "VALID", strides: [2, 2] });
  assert.deepEqual(Array.from(v.data), [6, 8, 14, 16]);
  // Indices (int64, flat over N*C*H*W), row- and column-major.
  const x2 = tensorOf([1, 2, 2, 3], [1, 9, 2, 3, 4, 5, 7, 1, 1, 1, 1, 8]);
  const [m, idx] = run("MaxPool", [x2], { kernel_shape: [2, 2] }, ["y", "i"]);
  assert.deepEqual(Array.from(m.data), [9, 9, 7, 8]);
  assert.equal(idx.dtype, "int64");
  assert.deepEqual(Array.from(idx.data), [1, 1, 6, 11]);
  const [, idc] = run("MaxPool", [x2], { kernel_shape: [2, 2], storage_order: 1 }, ["y", "i"]);
  // column-major within each (n, c) plane: h + w * H
  assert.deepEqual(Array.from(idc.data), [2, 2, 6, 6 + 1 + 2 * 2]);
  throwsCode(() => run("MaxPool", [x], {}), "E_UNSUPPORTED_ATTR"); // no kernel_shape
  throwsCode(
    () => run("MaxPool", [x], { kernel_shape: [3, 3], auto_pad: "BAD" }),
    "E_UNSUPPORTED_ATTR",
  );
  throwsCode(() => run("MaxPool", [x], { kernel_shape: [3] }), "E_UNSUPPORTED_ATTR");
  throwsCode(() => run("MaxPool", [x], { kernel_shape: [5, 5] }), "E_SHAPE");
  throwsCode(() => run("MaxPool", [rand([4, 4])], { kernel_shape: [2] }), "E_SHAPE");
});

Deno.test("AveragePool matches a naive pool with count_include_pad 0 and 1", () => {
  for (const pc of POOL_CASES) {
    const x = rand(pc.shape);
    for (const incl of [0, 1]) {
      const attrs = {
        kernel_shape: pc.k,
        strides: pc.s,
        dilations: pc.d,
        pads: pc.p,
        ceil_mode: pc.ceil,
        count_include_pad: incl,
      };
      const [y] = run("AveragePool", [x], attrs);
      assert.deepEqual(y.shape, [...pc.shape.slice(0, 2), ...pc.out]);
      close(y.data, naivePool(x, pc, "avg", incl), 1e-6, `${JSON.stringify(pc)} incl ${incl}`);
    }
  }
});

Deno.test("AveragePool hand-computed: ceil_mode, padding divisors", () => {
  const x = tensorOf([1, 1, 4, 4], Array.from({ length: 16 }, (_, i) => i + 1));
  const [y] = run("AveragePool", [x], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
  assert.deepEqual(Array.from(y.data), [6, 7.5, 12, 13.5]);
  const x2 = tensorOf([1, 1, 2, 2], [1, 2, 3, 4]);
  const attrs = { kernel_shape: [2, 2], pads: [1, 1, 1, 1] };
  const [ex] = run("AveragePool", [x2], attrs);
  assert.deepEqual(Array.from(ex.data), [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
  const [inc] = run("AveragePool", [x2], { ...attrs, count_include_pad: 1 });
  assert.deepEqual(Array.from(inc.data), [0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1]);
  // ceil_mode overhang is not counted even with count_include_pad=1 (onnxruntime/PyTorch).
  const x3 = tensorOf([1, 1, 3], [1, 2, 3]);
  const [c1] = run("AveragePool", [x3], {
    kernel_shape: [2],
    strides: [2],
    ceil_mode: 1,
    count_include_pad: 1,
  });
  assert.deepEqual(Array.from(c1.data), [1.5, 3]);
  throwsCode(
    () => run("AveragePool", [x2], { kernel_shape: [2, 2], count_include_pad: 2 }),
    "E_UNSUPPORTED_ATTR",
  );
});

Deno.test("GlobalAveragePool / GlobalMaxPool over 1, 2 and 3 spatial dims", () => {
  for (const shape of [[2, 3, 7], [1, 5, 3, 4], [2, 3, 2, 3, 2]]) {
    const x = rand(shape);
    const planes = shape[0] * shape[1], sp = x.data.length / planes;
    const avg = new Float64Array(planes), mx = new Float64Array(planes);
    for (let p = 0; p < planes; p++) {
      const sl = Array.from(x.data.slice(p * sp, (p + 1) * sp));
      avg[p] = sl.reduce((a, b) => a + b, 0) / sp;
      mx[p] = Math.max(...sl);
    }
    const outShape = [shape[0], shape[1], ...shape.slice(2).map(() => 1)];
    const [ya] = run("GlobalAveragePool", [x]);
    const [ym] = run("GlobalMaxPool", [x]);
    assert.deepEqual(ya.shape, outShape);
    assert.deepEqual(ym.shape, outShape);
    close(ya.data, avg, 1e-6);
    close(ym.data, mx, 0);
  }
  throwsCode(() => run("GlobalAveragePool", [rand([2, 3])]), "E_SHAPE");
});

// ---------------------------------------------------------------- normalisations

Deno.test("BatchNormalization (inference) matches the formula; training_mode rejected", () => {
  for (const shape of [[2, 3, 5, 4], [3, 7], [1, 5, 9]]) {
    const c = shape[1];
    const x = rand(shape), s = rand([c]), b = rand([c]), mean = rand([c]);
    const v = tensorOf([c], Array.from({ length: c }, () => Math.abs(rnd()) + 0.1));
    const eps = 1e-3;
    const [y] = run("BatchNormalization", [x, s, b, mean, v], { epsilon: eps, momentum: 0.9 });
    const sp = x.data.length / (shape[0] * c);
    const ref = Array.from(x.data, (xv, i) => {
      const ch = Math.floor(i / sp) % c;
      return (xv - mean.data[ch]) / Math.sqrt(v.data[ch] + eps) * s.data[ch] + b.data[ch];
    });
    close(y.data, ref, 1e-5, `${shape}`);
  }
  const x = rand([1, 3, 2, 2]), p = rand([3]);
  throwsCode(
    () => run("BatchNormalization", [x, p, p, p, p], { training_mode: 1 }),
    "E_UNSUPPORTED_ATTR",
  );
  throwsCode(
    () => run("BatchNormalization", [x, p, p, p, p], {}, ["y", "m", "v"]),
    "E_UNSUPPORTED_ATTR",
  );
  throwsCode(() => run("BatchNormalization", [x, p, p, p, rand([4])]), "E_SHAPE");
  throwsCode(() => run("BatchNormalization", [x, p, p, p]), "E_SHAPE");
});

Deno.test("InstanceNormalization matches the formula", () => {
  for (const shape of [[2, 3, 5, 7], [1, 5, 11]]) {
    const c = shape[1];
    const x = rand(shape), s = rand([c]), b = rand([c]);
    const [y] = run("InstanceNormalization", [x, s, b], { epsilon: 1e-4 });
    const sp = x.data.length / (shape[0] * c);
    const ref = new Float64Array(x.data.length);
    for (let p = 0; p < shape[0] * c; p++) {
      const sl = Array.from(x.data.slice(p * sp, (p + 1) * sp));
      const mu = sl.reduce((a, b) => a + b, 0) / sp;
      const va = sl.reduce((a, v) => a + (v - mu) ** 2, 0) / sp;
      sl.forEach((v, i) =>
        ref[p * sp + i] = (v - mu) / Math.sqrt(va + 1e-4) * s.data[p % c] + b.data[p % c]
      );
    }
    close(y.data, ref, 1e-5);
  }
  throwsCode(
    () => run("InstanceNormalization", [rand([1, 3, 4]), rand([2]), rand([3])]),
    "E_SHAPE",
  );
});

Deno.test("LayerNormalization: axis, optional B, broadcast Scale, Mean/InvStdDev outputs", () => {
  const shape = [2, 3, 5];
  const x = rand(shape);
  const ref = (axis: number, sc: (i: number) => number, bi: (i: number) => number) => {
    const inner = shape.slice(axis).reduce((a, b) => a * b, 1), outer = x.data.length / inner;
    const y = new Float64Array(x.data.length), mean = [], inv = [];
    for (let r = 0; r < outer; r++) {
      const sl = Array.from(x.data.slice(r * inner, (r + 1) * inner));
      const mu = sl.reduce((a, b) => a + b, 0) / inner;
      const is = 1 / Math.sqrt(sl.reduce((a, v) => a + (v - mu) ** 2, 0) / inner + 1e-5);
      sl.forEach((v, j) =>
        y[r * inner + j] = (v - mu) * is * sc(r * inner + j) + bi(r * inner + j)
      );
      mean.push(mu);
      inv.push(is);
    }
    return { y, mean, inv };
  };
  // axis -1, Scale and B of shape [5]
  const s5 = rand([5]), b5 = rand([5]);
  const [y, m, i] = run("LayerNormalization", [x, s5, b5], {});
  const r1 = ref(2, (k) => s5.data[k % 5], (k) => b5.data[k % 5]);
  close(y.data, r1.y, 1e-5);
  assert.deepEqual(m.shape, [2, 3, 1]);
  assert.equal(m.dtype, "float32");
  close(m.data, r1.mean, 1e-6);
  close(i.data, r1.inv, 1e-5);
  // axis 1, Scale [3, 5], no B
  const s35 = rand([3, 5]);
  const [y2, m2] = run("LayerNormalization", [x, s35], { axis: 1 });
  close(y2.data, ref(1, (k) => s35.data[k % 15], () => 0).y, 1e-5);
  assert.deepEqual(m2.shape, [2, 1, 1]);
  // Scale [1, 5] (leading 1) and a B varying along a non-normalised axis: [3, 1]
  const s15 = rand([1, 5]), b31 = rand([3, 1]);
  const [y3] = run("LayerNormalization", [x, s15, b31], { axis: -1 });
  close(y3.data, ref(2, (k) => s15.data[k % 5], (k) => b31.data[Math.floor(k / 5) % 3]).y, 1e-5);
  throwsCode(() => run("LayerNormalization", [x, rand([4])]), "E_SHAPE");
  throwsCode(() => run("LayerNormalization", [x, s5], { axis: 3 }), "E_UNSUPPORTED_ATTR");
});

// ---------------------------------------------------------------- softmax family

function naiveSoftmaxRows(
  data: ArrayLike<number>,
  outer: number,
  n: number,
  inner: number,
  kind: string,
) {
  const y = new Float64Array(data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const idx = Array.from({ length: n }, (_, k) => o * n * inner + k * inner + i);
      const vals = idx.map((j) => data[j]);
      const mx = Math.max(...vals);
      const sum = vals.reduce((a, v) => a + Math.exp(v - mx), 0);
      const first = vals.indexOf(mx);
      idx.forEach((j, k) => {
        y[j] = kind === "Softmax"
          ? Math.exp(vals[k] - mx) / sum
          : kind === "LogSoftmax"
          ? vals[k] - mx - Math.log(sum)
          : k === first
          ? 1
          : 0;
      });
    }
  }
  return y;
}

Deno.test("Softmax / LogSoftmax / Hardmax: opset >= 13 single axis, opset < 13 coerced 2-D", () => {
  const shape = [2, 3, 5];
  const x = rand(shape);
  for (const op of ["Softmax", "LogSoftmax", "Hardmax"]) {
    // opset 13, default axis -1
    close(run(op, [x], {}, [], 13)[0].data, naiveSoftmaxRows(x.data, 6, 5, 1, op), 1e-6, op);
    // opset 13, axis 1 (a middle axis)
    close(
      run(op, [x], { axis: 1 }, [], 13)[0].data,
      naiveSoftmaxRows(x.data, 2, 3, 5, op),
      1e-6,
      op,
    );
    // opset 11, default axis 1 -> rows of 15
    close(run(op, [x], {}, [], 11)[0].data, naiveSoftmaxRows(x.data, 2, 15, 1, op), 1e-6, op);
    // opset 11, axis -1 -> rows of 5
    close(
      run(op, [x], { axis: -1 }, [], 11)[0].data,
      naiveSoftmaxRows(x.data, 6, 5, 1, op),
      1e-6,
      op,
    );
    throwsCode(() => run(op, [x], { axis: 3 }, [], 13), "E_UNSUPPORTED_ATTR");
  }
  // Hardmax ties pick the first maximum; Softmax is shift invariant with huge inputs.
  const t = tensorOf([2, 3], [1, 3, 3, 1e4, 1e4 - 1, -1e4]);
  assert.deepEqual(Array.from(run("Hardmax", [t])[0].data), [0, 1, 0, 1, 0, 0]);
  const sm = run("Softmax", [t])[0].data;
  close(sm.slice(3), [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1)), 0], 1e-6);
});

Deno.test("LpNormalization p=1 and p=2; zero slice gives zeros", () => {
  const x = rand([3, 4, 5]);
  for (const p of [1, 2]) {
    const [y] = run("LpNormalization", [x], { axis: 1, p });
    const ref = new Float64Array(x.data.length);
    for (let o = 0; o < 3; o++) {
      for (let i = 0; i < 5; i++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += Math.abs(x.data[o * 20 + k * 5 + i]) ** p;
        const norm = s ** (1 / p);
        for (let k = 0; k < 4; k++) ref[o * 20 + k * 5 + i] = x.data[o * 20 + k * 5 + i] / norm;
      }
    }
    close(y.data, ref, 1e-5);
  }
  const z = tensorOf([2, 2], [0, 0, 3, 4]);
  close(run("LpNormalization", [z])[0].data, [0, 0, 0.6, 0.8], 1e-7);
  throwsCode(() => run("LpNormalization", [x], { p: 3 }), "E_UNSUPPORTED_ATTR");
});

Deno.test("NN_OPS lists every op with its understood attributes", () => {
  const want = [
    "AveragePool",
    "BatchNormalization",
    "Conv",
    "ConvTranspose",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Hardmax",
    "InstanceNormalization",
    "LRN",
    "LayerNormalization",
    "LogSoftmax",
    "LpNormalization",
    "MatMul",
    "MaxPool",
    "MeanVarianceNormalization",
    "Softmax",
  ];
  assert.deepEqual(Object.keys(NN_OPS).sort(), want);
  for (const def of Object.values(NN_OPS)) {
    assert.ok(Array.isArray(def.attrs));
    assert.equal(typeof def.infer, "function");
    assert.equal(typeof def.run, "function");
  }
  assert.ok(NN_OPS.Conv.attrs.includes("auto_pad"));
  assert.ok(NN_OPS.AveragePool.attrs.includes("count_include_pad"));
});
