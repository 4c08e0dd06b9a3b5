import assert from "node:assert/strict";
import { importOnnx } from "../quantizer/onnx_import.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import { bindGraph } from "../runtime/bind.ts";
import { execute } from "../runtime/executor.ts";
import { EdgeqError } from "../runtime/errors.ts";
import { buildModel } from "./onnx_build.ts";

const FIX = new URL("./fixtures/", import.meta.url);
const read = (f: string) => Deno.readFile(new URL(f, FIX));

function rand(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.3;
  });
}

function expectError(fn: () => unknown, code: string, re: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EdgeqError, `expected EdgeqError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("import: unsupported op names op, node and opset", () => {
  const bytes = buildModel({
    nodes: [{ op: "NonMaxSuppression", name: "nms1", inputs: ["x"], outputs: ["y"] }],
    inputs: [["x", [1, 4]]],
    outputs: [["y", [1, 4]]],
    opset: 13,
  });
  expectError(() => importOnnx(bytes), "E_UNSUPPORTED_OP", /NonMaxSuppression.*nms1.*opset 13/);
});

Deno.test("import: unknown attribute is rejected, not ignored", () => {
  const bytes = buildModel({
    nodes: [{ op: "Relu", name: "r", inputs: ["x"], outputs: ["y"], int: { frobnicate: 1 } }],
    inputs: [["x", [2]]],
    outputs: [["y", [2]]],
  });
  expectError(() => importOnnx(bytes), "E_UNSUPPORTED_ATTR", /frobnicate.*node 'r'/);
});

Deno.test("import: custom-domain op is unsupported", () => {
  const bytes = buildModel({
    nodes: [{ op: "Relu", domain: "com.example", inputs: ["x"], outputs: ["y"] }],
    inputs: [["x", [2]]],
    outputs: [["y", [2]]],
  });
  expectError(() => importOnnx(bytes), "E_UNSUPPORTED_OP", /com\.example\.Relu/);
});

Deno.test("import: garbage, truncated and empty bytes give E_BAD_MODEL", async () => {
  const good = await read("resnet14_op13.onnx");
  expectError(
    () => importOnnx(good.subarray(0, good.length >> 1)),
    "E_BAD_MODEL",
    /ONNX|raw_data|values/,
  );
  expectError(() => importOnnx(new Uint8Array([1, 2, 3, 4, 5, 6, 7])), "E_BAD_MODEL", /./);
  expectError(() => importOnnx(new Uint8Array(0)), "E_BAD_MODEL", /no graph|opset/);
});

Deno.test("import: opset outside 7..18 is refused with the opset named", () => {
  const bytes = buildModel({
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
    inputs: [["x", [2]]],
    outputs: [["y", [2]]],
    opset: 21,
  });
  expectError(() => importOnnx(bytes), "E_BAD_MODEL", /opset 21/);
});

Deno.test("bind: symbolic batch is bound; other symbolic dims need explicit shapes", () => {
  const bytes = buildModel({
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
    inputs: [["x", ["N", "L"]]],
    outputs: [["y", ["N", "L"]]],
  });
  const g = importOnnx(bytes);
  expectError(() => bindGraph(g, { batch: 3 }), "E_SHAPE", /symbolic.*'L'/);
  const b = bindGraph(g, { shapes: { x: [3, 5] } });
  assert.deepEqual(b.values.get("y")?.shape, [3, 5]);
});

Deno.test("run: wrong input shape / dtype / missing input are E_INPUT naming the tensor", async () => {
  const g = prepareGraph(importOnnx(await read("resnet14_op13.onnx")), { batch: 1 });
  const x = { dtype: "float32" as const, shape: [1, 1, 28, 28], data: rand(784) };
  expectError(() => execute(g, {}), "E_INPUT", /missing input.*'input'/);
  expectError(
    () => execute(g, { input: { ...x, shape: [1, 1, 27, 28], data: rand(756) } }),
    "E_INPUT",
    /expected shape \[1,1,28,28\]/,
  );
  expectError(
    () => execute(g, { input: { ...x, dtype: "float64", data: new Float64Array(784) } }),
    "E_INPUT",
    /expected dtype float32/,
  );
  expectError(
    () => execute(g, { input: { ...x, data: rand(100) } }),
    "E_INPUT",
    /100 elements/,
  );
});

Deno.test("fold: BatchNormalization is folded into Conv and gives the same logits", async () => {
  const bn = importOnnx(await read("resnet14_bn_op13.onnx"));
  assert.equal(bn.nodes.filter((n) => n.op === "BatchNormalization").length, 15);
  const folded = prepareGraph(bn, { batch: 2 });
  assert.equal(folded.nodes.filter((n) => n.op === "BatchNormalization").length, 0);
  const unfolded = bindGraph(bn, { batch: 2 });
  assert.equal(unfolded.nodes.filter((n) => n.op === "BatchNormalization").length, 15);
  const x = { dtype: "float32" as const, shape: [2, 1, 28, 28], data: rand(2 * 784, 7) };
  const a = execute(folded, { input: x }).logits.data;
  const b = execute(unfolded, { input: x }).logits.data;
  let maxAbs = 0, maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  assert.ok(maxRef > 0.1, "logits must be non-trivial");
  assert.ok(maxAbs / maxRef < 1e-5, `folded vs unfolded relative diff ${maxAbs / maxRef}`);
});

Deno.test("fold: shape arithmetic is folded away; only compute remains", async () => {
  for (const f of ["vit_op13.onnx", "vit_op17.onnx"]) {
    const g = importOnnx(await read(f));
    const b = prepareGraph(g, { batch: 3 });
    const shapeOps = ["Shape", "Unsqueeze", "Concat", "ConstantOfShape", "Cast", "Constant"];
    for (const n of b.nodes) {
      assert.ok(!shapeOps.includes(n.op), `${f}: ${n.op} node ${n.name} left after folding`);
    }
    assert.ok(b.nodes.length < g.nodes.length, "folding removed nodes");
    assert.deepEqual(b.values.get("logits")?.shape, [3, 10]);
  }
});

Deno.test("blocks: ResNet-14 has 6 residual blocks, ViT 8, with correct spans", async () => {
  const r = prepareGraph(importOnnx(await read("resnet14_op13.onnx")), { batch: 1 });
  assert.equal(r.blocks.length, 6);
  for (const b of r.blocks) {
    const ops = b.nodes.map((n) => r.nodes.find((x) => x.name === n)!.op);
    assert.deepEqual(ops, ["Conv", "Relu", "Conv", "Add"]);
  }
  // Stage transitions (blocks 2 and 4) carry a 1x1 downsampling conv on the shortcut.
  assert.deepEqual(r.blocks.map((b) => b.shortcutNodes.length), [0, 0, 1, 0, 1, 0]);
  const v = prepareGraph(importOnnx(await read("vit_op17.onnx")), { batch: 1 });
  assert.equal(v.blocks.length, 8);
  for (const b of v.blocks) assert.equal(b.shortcut, b.input, "ViT shortcuts are identities");
});

Deno.test("blocks: skipping a block equals running with the body replaced by the shortcut", async () => {
  const g = prepareGraph(importOnnx(await read("resnet14_op13.onnx")), { batch: 1 });
  const x = { dtype: "float32" as const, shape: [1, 1, 28, 28], data: rand(784, 3) };
  const full = execute(g, { input: x }).logits.data;
  const skip1 = execute(g, { input: x }, { skip: new Set([1]) }).logits.data;
  assert.notDeepEqual(Array.from(full), Array.from(skip1));
  // Reference: rewrite the graph so block 1's Add output is its shortcut value.
  const b = g.blocks[1];
  const body = new Set(b.nodes);
  const nodes = g.nodes.filter((n) => !body.has(n.name)).map((n) => ({
    ...n,
    inputs: n.inputs.map((i) => (i === b.output ? b.shortcut : i)),
  }));
  const ref = execute({ ...g, nodes }, { input: x }).logits.data;
  assert.deepEqual(Array.from(skip1), Array.from(ref));
});
