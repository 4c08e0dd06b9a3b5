/**
 * Whole models on WebGPU: the int8 ResNet-14 (both dot4 paths) and the int8 ViTs (opset
 * 17 and 13) give bit-identical logits to the reference backend on 32 Fashion-MNIST images; residual
 * blocks can be skipped (gating) with the executor's semantics.
 */
import assert from "node:assert/strict";
import { gpuUnavailable } from "../kernels/webgpu/gpu.ts";
import { runGraphBoth } from "../kernels/webgpu/check.ts";
import { webgpuBackend } from "../kernels/webgpu/backend.ts";
import { load } from "../runtime/model.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { quantize } from "../quantizer/quantize.ts";
import { execute } from "../runtime/executor.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import type { Graph } from "../runtime/graph.ts";
import type { Tensor } from "../runtime/tensor.ts";

const why = await gpuUnavailable();
if (why) console.log(`webgpu model tests skipped: ${why}`);
const ignore = why !== null;
const ROOT = new URL("../", import.meta.url).pathname;

async function quantized(onnx: string): Promise<Uint8Array> {
  const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 64 });
  return quantize(await Deno.readFile(`${ROOT}tests/fixtures/${onnx}`), calib, {
    method: "variance",
  }).bytes;
}

/** Runs n images on both backends: how many logits and top-1 answers differ. */
async function compareModel(
  bytes: Uint8Array,
  n: number,
  backendOptions = {},
): Promise<{ diff: number; top1Diff: number; identical: number }> {
  const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, n);
  const gpu = await load(bytes, { backend: "webgpu", backendOptions });
  const ref = await load(bytes);
  const x = imageBatch(set, 0, n, 1, {});
  const name = gpu.inputNames[0];
  const a = (await gpu.run({ [name]: x }))[gpu.outputNames[0]];
  const b = (await ref.run({ [name]: x }))[ref.outputNames[0]];
  await gpu.dispose();
  assert.deepEqual(a.shape, b.shape);
  assert.ok(new Set(b.data).size > 10);
  const k = a.data.length / n;
  let diff = 0, top1Diff = 0, identical = 0;
  const arg = (d: ArrayLike<number>, o: number) => {
    let m = 0;
    for (let c = 1; c < k; c++) if (d[o + c] > d[o + m]) m = c;
    return m;
  };
  for (let i = 0; i < n; i++) {
    let same = true;
    for (let c = 0; c < k; c++) {
      if (a.data[i * k + c] !== b.data[i * k + c]) {
        diff++;
        same = false;
      }
    }
    if (same) identical++;
    if (arg(a.data, i * k) !== arg(b.data, i * k)) top1Diff++;
  }
  return { diff, top1Diff, identical };
}

Deno.test({
  name: "webgpu int8 ResNet-14: bit-identical logits on 32 images, dot4 and fallback",
  ignore,
  async fn() {
    const bytes = await quantized("resnet14_op13.onnx");
    for (const dot4 of [true, false]) {
      const r = await compareModel(bytes, 32, { dot4 });
      assert.equal(r.diff, 0, `dot4=${dot4}: ${r.diff} logits differ`);
    }
  },
});

for (const onnx of ["vit_op17.onnx", "vit_op13.onnx"]) {
  Deno.test({
    name:
      `webgpu int8 ViT (${onnx}: QMatMul, QLayerNorm, QSoftmax, QLut): bit-identical logits on 32 images`,
    ignore,
    async fn() {
      // LayerNorm, Softmax and GELU are integer ops (kernels/ref/quant/README.md), so the
      // whole graph after the input quantizer is exact; op13's decomposed LayerNorm is fused.
      const bytes = await quantized(onnx);
      const ops = (await load(bytes)).bound({ input: [1, 1, 28, 28] }).nodes.map((n) => n.op);
      for (const op of ["QLayerNorm", "QSoftmax", "QLut"]) assert.ok(ops.includes(op), op);
      const r = await compareModel(bytes, 32);
      assert.equal(r.diff, 0, `${r.diff} logits differ (${r.identical}/32 images identical)`);
    },
  });
}

/** x → Q → (c1 → Deq) + (c2 → c3 → Deq) → Add: one residual block (body c2, c3). */
function blockGraph(): { g: Graph; feeds: Record<string, Tensor> } {
  let s = 99;
  const r = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const w = (m: number, c: number): Tensor => ({
    dtype: "int8",
    shape: [m, c, 3, 3],
    data: Int8Array.from({ length: m * c * 9 }, () => Math.floor(r() * 255) - 127),
  });
  const conv = (name: string, x: string, y: string, wn: string) => ({
    name,
    op: "QConv",
    domain: "edgeq",
    inputs: [x, wn],
    outputs: [y],
    attrs: {
      kernel_shape: [3, 3],
      pads: [1, 1, 1, 1],
      x_zp: 0,
      y_zp: 0,
      mult: 1500000000,
      shift: -9,
      qmin: 0,
    },
  });
  const deq = (name: string, x: string, y: string) => ({
    name,
    op: "DequantizeLinear8",
    domain: "edgeq",
    inputs: [x],
    outputs: [y],
    attrs: { scale: 0.05, zero_point: 0 },
  });
  const g: Graph = {
    name: "block",
    opset: 17,
    inputs: [{ name: "x", dtype: "float32", shape: [2, 3, 6, 6] }],
    outputs: [{ name: "y", dtype: "float32", shape: [2, 4, 6, 6] }],
    initializers: new Map([["w1", w(4, 3)], ["w2", w(4, 3)], ["w3", w(4, 4)]]),
    nodes: [
      {
        name: "q",
        op: "QuantizeLinear8",
        domain: "edgeq",
        inputs: ["x"],
        outputs: ["q0"],
        attrs: { scale: 0.02, zero_point: 0 },
      },
      conv("c1", "q0", "q1", "w1"),
      deq("d1", "q1", "f1"),
      conv("c2", "q0", "q2", "w2"),
      conv("c3", "q2", "q3", "w3"),
      deq("d3", "q3", "f3"),
      { name: "add", op: "Add", domain: "", inputs: ["f1", "f3"], outputs: ["y"], attrs: {} },
    ],
    values: new Map(),
    blocks: [],
  };
  const data = Float32Array.from({ length: 2 * 3 * 36 }, () => r() * 4);
  return { g: prepareGraph(g, {}), feeds: { x: { dtype: "float32", shape: [2, 3, 6, 6], data } } };
}

Deno.test({
  name: "webgpu residual-block skipping matches the executor",
  ignore,
  async fn() {
    const { g, feeds } = blockGraph();
    assert.equal(g.blocks.length, 1, "the test graph must have one residual block");
    const { ref, gpu } = await runGraphBoth(g, feeds);
    assert.deepEqual(gpu.y.data, ref.y.data);
    const c = await webgpuBackend.compile(g, {});
    const skip = new Set([g.blocks[0].index]);
    const skipped = await c.run(feeds, { skip });
    const want = execute(g, feeds, { skip }).y;
    assert.deepEqual(skipped.y.data, want.data);
    assert.notDeepEqual(want.data, ref.y.data, "skipping must change the output");
    // and back to the full graph on the same compiled graph
    assert.deepEqual((await c.run(feeds)).y.data, ref.y.data);
    c.dispose();
  },
});
