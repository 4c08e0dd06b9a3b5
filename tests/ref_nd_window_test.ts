/**
 * The N-D (more than 2 spatial axes) paths of Conv, ConvTranspose, MaxPool and
 * AveragePool (tap tables): a 3-D op over a unit depth must equal the 2-D op, and a
 * 3-D Conv must match a naive loop.
 */
import assert from "node:assert/strict";
import { NN_OPS } from "../kernels/ref/nn.ts";
import { tapTable } from "../kernels/ref/nn_window.ts";
import type { Attrs } from "../runtime/graph.ts";
import type { Tensor } from "../runtime/tensor.ts";

let seed = 777;
function rand(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    data[i] = seed / 2 ** 31 - 1;
  }
  return { dtype: "float32", shape, data };
}

function run(op: string, ins: (Tensor | undefined)[], attrs: Attrs, outputs = ["y"]): Tensor[] {
  const ctx = { node: { name: "t", op, domain: "", inputs: [], outputs, attrs }, opset: 17 };
  const metas = ins.map((t) => (t ? { dtype: t.dtype, shape: t.shape } : undefined));
  const inferred = NN_OPS[op].infer(metas, attrs, ins.map(() => undefined), ctx);
  const outs = NN_OPS[op].run(ins, attrs, ctx);
  outs.forEach((o, i) => assert.deepEqual(inferred[i], { dtype: o.dtype, shape: o.shape }));
  return outs;
}

/** Inserts a unit depth axis after N, C (and into a weight's spatial dims). */
const unitDepth = (t: Tensor): Tensor => ({
  ...t,
  shape: [t.shape[0], t.shape[1], 1, ...t.shape.slice(2)],
});

/** 2-D spatial attributes → 3-D with a unit/zero depth entry. */
function lift(attrs: Attrs): Attrs {
  const out: Attrs = { ...attrs };
  for (const k of ["strides", "dilations", "kernel_shape"]) {
    if (attrs[k]) out[k] = [1, ...(attrs[k] as number[])];
  }
  if (attrs.pads) {
    const p = attrs.pads as number[];
    out.pads = [0, p[0], p[1], 0, p[2], p[3]];
  }
  if (attrs.output_padding) out.output_padding = [0, ...(attrs.output_padding as number[])];
  return out;
}

function same(a: Tensor, b: Tensor, what: string) {
  assert.deepEqual(a.shape.filter((_, i) => i !== 2), b.shape, `${what} shape`);
  for (let i = 0; i < b.data.length; i++) {
    assert.ok(Math.abs(a.data[i] - b.data[i]) <= 1e-6, `${what} element ${i}`);
  }
}

const ATTRS: Attrs[] = [
  {},
  { strides: [2, 1], pads: [1, 0, 1, 1] },
  { dilations: [2, 1], pads: [2, 1, 0, 1], strides: [1, 2] },
  { auto_pad: "SAME_UPPER", strides: [2, 2] },
];

Deno.test("N-D Conv / ConvTranspose over a unit depth equal the 2-D ops", () => {
  for (const attrs of ATTRS) {
    const x = rand([2, 4, 6, 7]), w = rand([6, 2, 3, 2]), b = rand([6]);
    const a = { ...attrs, group: 2 };
    const [y2] = run("Conv", [x, w, b], a);
    const [y3] = run("Conv", [unitDepth(x), unitDepth(w), b], lift(a));
    same(y3, y2, `Conv ${JSON.stringify(attrs)}`);
    const wt = rand([4, 3, 3, 2]);
    const at: Attrs = { ...attrs, group: 2, output_padding: [1, 0] };
    if (at.auto_pad) continue;
    const [t2] = run("ConvTranspose", [x, wt, b], at);
    const [t3] = run("ConvTranspose", [unitDepth(x), unitDepth(wt), b], lift(at));
    same(t3, t2, `ConvTranspose ${JSON.stringify(attrs)}`);
  }
});

Deno.test("N-D MaxPool / AveragePool over a unit depth equal the 2-D ops", () => {
  for (const attrs of ATTRS) {
    const x = rand([2, 3, 7, 6]);
    const a = { ...attrs, kernel_shape: [3, 2] };
    const [m2, i2] = run("MaxPool", [x], a, ["y", "i"]);
    const [m3, i3] = run("MaxPool", [unitDepth(x)], lift(a), ["y", "i"]);
    same(m3, m2, `MaxPool ${JSON.stringify(attrs)}`);
    assert.deepEqual([...i3.data], [...i2.data]);
    for (const count_include_pad of [0, 1]) {
      const [p2] = run("AveragePool", [x], { ...a, count_include_pad });
      const [p3] = run("AveragePool", [unitDepth(x)], lift({ ...a, count_include_pad }));
      same(p3, p2, `AveragePool ${count_include_pad} ${JSON.stringify(attrs)}`);
    }
  }
});

Deno.test("3-D Conv matches a naive loop", () => {
  const [N, C, D, H, W, M] = [1, 2, 4, 5, 3, 3];
  const [kd, kh, kw] = [2, 3, 2], s = [2, 1, 1], d = [1, 2, 1], pb = [1, 2, 0], pe = [0, 1, 1];
  const x = rand([N, C, D, H, W]), w = rand([M, C, kd, kh, kw]);
  const [y] = run("Conv", [x, w], { strides: s, dilations: d, pads: [...pb, ...pe] });
  const os = [D, H, W].map((n, i) =>
    Math.floor((n + pb[i] + pe[i] - ((([kd, kh, kw][i]) - 1) * d[i] + 1)) / s[i]) + 1
  );
  assert.deepEqual(y.shape, [N, M, ...os]);
  let o = 0;
  for (let m = 0; m < M; m++) {
    for (let a = 0; a < os[0]; a++) {
      for (let b = 0; b < os[1]; b++) {
        for (let c = 0; c < os[2]; c++, o++) {
          let acc = 0;
          for (let ch = 0; ch < C; ch++) {
            for (let i = 0; i < kd; i++) {
              for (let j = 0; j < kh; j++) {
                for (let k = 0; k < kw; k++) {
                  const z = a * s[0] + i * d[0] - pb[0];
                  const yy = b * s[1] + j * d[1] - pb[1];
                  const xx = c * s[2] + k * d[2] - pb[2];
                  if (z < 0 || z >= D || yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                  acc += x.data[((ch * D + z) * H + yy) * W + xx] *
                    w.data[(((m * C + ch) * kd + i) * kh + j) * kw + k];
                }
              }
            }
          }
          assert.ok(Math.abs(y.data[o] - acc) <= 1e-5, `element ${o}: ${y.data[o]} vs ${acc}`);
        }
      }
    }
  }
});

Deno.test("tapTable marks padding (-1) and beyond-padding (-2) taps", () => {
  const t = tapTable([3], [3], {
    kernel: [2],
    strides: [2],
    dilations: [1],
    padBegin: [1],
    padEnd: [0],
  });
  // positions 0..2 at coordinates -1, 1, 3 (+0) and 0, 2, 4 (+1)
  assert.deepEqual([...t], [-1, 1, -2, 0, 2, -2]);
});
