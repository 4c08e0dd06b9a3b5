/**
 * WebGPU QLut / QSoftmax / QLayerNorm against the reference ops: bit-identical outputs on
 * random non-constant inputs of odd shapes (rows × N, N in {1, 3, 17, 64, 67, 192}, and a
 * 512-long LayerNorm row at the limit), int8 and uint8 codes, random attributes.
 */
import assert from "node:assert/strict";
import { gpuUnavailable } from "../kernels/webgpu/gpu.ts";
import { runBoth } from "../kernels/webgpu/check.ts";
import { layerNormShift } from "../kernels/ref/quant/qlayernorm.ts";
import { quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import type { Attrs } from "../runtime/graph.ts";
import type { Tensor } from "../runtime/tensor.ts";

const why = await gpuUnavailable();
if (why) console.log(`webgpu QLut/QSoftmax/QLayerNorm tests skipped: ${why}`);
const ignore = why !== null;

let seed = 4242;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
}
const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));

/** Random codes; `spread` narrows the range (small variances, many ties). */
function randQ(dtype: "int8" | "uint8", shape: number[], spread = 255): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === "int8" ? new Int8Array(n) : new Uint8Array(n);
  const lo = dtype === "int8" ? -128 : 0;
  const c = int(lo, lo + 255 - spread);
  for (let i = 0; i < n; i++) data[i] = c + int(0, spread);
  return { dtype, shape, data };
}

function same(ref: Tensor, gpu: Tensor, what: string): void {
  assert.deepEqual(gpu.shape, ref.shape, `${what}: shape`);
  assert.equal(gpu.dtype, ref.dtype, `${what}: dtype`);
  for (let i = 0; i < ref.data.length; i++) {
    if (ref.data[i] !== gpu.data[i]) {
      assert.fail(`${what}: element ${i}: gpu ${gpu.data[i]} vs ref ${ref.data[i]}`);
    }
  }
  assert.ok(
    ref.data.length === 0 || new Set(ref.data).size > 1 || ref.shape.at(-1) === 1,
    `${what}: degenerate`,
  );
}

const Q = (op: string, attrs: Attrs) => ({ op, domain: "edgeq", attrs });
const SHAPES = [[5, 1], [7, 3], [3, 17], [2, 5, 64], [9, 67], [4, 192]];

Deno.test({
  name: "webgpu QLut bit-exact (uint8 and int8 inputs, odd sizes)",
  ignore,
  async fn() {
    for (const dtype of ["uint8", "int8"] as const) {
      for (const shape of [[1], [3, 17], [5, 67]]) {
        const table = Array.from({ length: 256 }, () => int(0, 255));
        const r = await runBoth(Q("QLut", { table }), { x: randQ(dtype, shape) });
        same(r.ref, r.gpu, `QLut ${dtype} [${shape}]`);
      }
    }
  },
});

Deno.test({
  name: "webgpu QSoftmax bit-exact on rows × N, N in {1, 3, 17, 64, 67, 192}",
  ignore,
  async fn() {
    for (const shape of SHAPES) {
      for (const dtype of ["uint8", "int8"] as const) {
        const s = 0.002 + rnd() * 0.3;
        const exp_table = Array.from(
          { length: 256 },
          (_, d) => Math.round(65536 * Math.exp(-s * d)),
        );
        const r = int(255, Math.min(32767, 128 * shape[shape.length - 1] + 255));
        const x = randQ(dtype, shape, int(0, 1) ? 255 : 12);
        const out = await runBoth(Q("QSoftmax", { exp_table, r }), { x });
        same(out.ref, out.gpu, `QSoftmax ${dtype} [${shape}] r=${r}`);
      }
    }
  },
});

Deno.test({
  name:
    "webgpu QLayerNorm bit-exact on rows × N, N in {1, 3, 17, 64, 67, 192, 512}, γ of both signs",
  ignore,
  async fn() {
    for (const shape of [...SHAPES, [3, 512]]) {
      const n = shape[shape.length - 1], k = layerNormShift(n);
      for (const dtype of ["uint8", "int8"] as const) {
        const so = 0.01 + rnd() * 0.05;
        const m = Array.from(
          { length: n },
          () => quantizeMultiplier((rnd() * 0.5 * 16) / (so * 2 ** k)),
        );
        const attrs: Attrs = {
          eps: int(1, 5000),
          mult: m.map((v) => v.mult),
          shift: m.map((v) => v.shift),
          sign: m.map(() => int(-1, 1)),
          bias: m.map(() => int(-800, 800)),
          y_zp: int(90, 160),
          dtype: "uint8",
          qmin: int(0, 10),
        };
        const x = randQ(dtype, shape, int(0, 1) ? 255 : 9);
        const out = await runBoth(Q("QLayerNorm", attrs), { x });
        same(out.ref, out.gpu, `QLayerNorm ${dtype} [${shape}]`);
      }
    }
  },
});
