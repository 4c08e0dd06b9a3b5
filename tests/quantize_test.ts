import assert from "node:assert/strict";
import { quantize } from "../quantizer/quantize.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { load } from "../runtime/model.ts";
import { loadPackedGraph } from "../runtime/packed_model.ts";
import { EdgeqError } from "../runtime/errors.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import { execute } from "../runtime/executor.ts";
import { prepareGraph } from "../runtime/prepare.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const R14 = `${ROOT}tests/fixtures/resnet14_op13.onnx`;

let cached: Uint8Array | undefined;
async function packedR14(): Promise<Uint8Array> {
  if (!cached) {
    const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 128 });
    cached = quantize(await Deno.readFile(R14), calib, { method: "variance" }).bytes;
  }
  return cached;
}

function top1(data: ArrayLike<number>, n: number): number[] {
  const c = data.length / n;
  return Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let k = 1; k < c; k++) if (data[i * c + k] > data[i * c + best]) best = k;
    return best;
  });
}

Deno.test("quantize: ResNet-14 int8 is ≤ 0.27× the float ONNX and keeps its accuracy", async () => {
  const bytes = await packedR14();
  const floatBytes = (await Deno.stat(R14)).size;
  assert.ok(bytes.length <= 0.27 * floatBytes, `${bytes.length} vs ${floatBytes}`);
  const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 300);
  const x = imageBatch(set, 0, 300);
  const q = await load(bytes);
  const f = await load(R14);
  const pq = top1((await q.run({ input: x })).logits.data, 300);
  const pf = top1((await f.run({ input: x })).logits.data, 300);
  const accQ = pq.filter((p, i) => p === set.labels[i]).length / 300;
  const accF = pf.filter((p, i) => p === set.labels[i]).length / 300;
  const agree = pq.filter((p, i) => p === pf[i]).length / 300;
  console.log(`300 images: float ${accF}, int8 ${accQ}, top-1 agreement ${agree}`);
  assert.ok(accQ >= accF - 0.01, `int8 ${accQ} vs float ${accF}`);
  assert.ok(agree >= 0.97, `agreement ${agree}`);
});

Deno.test("quantize: the int8 graph is integer-only between input and logits", async () => {
  const { graph } = loadPackedGraph(await packedR14());
  const b = prepareGraph(graph, { batch: 2 });
  const ops = b.nodes.map((n) => `${n.domain}:${n.op}`);
  // Only the input normalisation (Sub, Div) runs in float before the first quantize.
  const firstQ = ops.indexOf("edgeq:QuantizeLinear8");
  assert.ok(firstQ >= 0);
  assert.deepEqual(ops.slice(0, firstQ).sort(), [":Div", ":Sub"]);
  const lastDq = ops.lastIndexOf("edgeq:DequantizeLinear8");
  assert.equal(lastDq, ops.length - 1, "dequantize only at the end");
  for (const op of ops.slice(firstQ + 1, lastDq)) {
    assert.ok(op.startsWith("edgeq:Q") || op === ":Flatten", `non-integer op ${op} in the middle`);
  }
  // Integer values flow between layers.
  for (const n of b.nodes.slice(firstQ, lastDq)) {
    assert.ok(["uint8", "int8"].includes(b.values.get(n.outputs[0])!.dtype), n.name);
  }
});

Deno.test("load: an uncompressed-data .eqp makes no copy of weight data", async () => {
  const bytes = await packedR14();
  const { graph, file } = loadPackedGraph(bytes);
  assert.equal(file.zeroCopy, true);
  let n = 0;
  for (const [name, t] of graph.initializers) {
    if (t.dtype === "int8" || t.dtype === "int32" || t.dtype === "float32") {
      assert.equal(t.data.buffer, bytes.buffer, `${name} is a view over the file`);
      n++;
    }
  }
  assert.ok(n >= 30, `${n} tensors checked`);
  // And the model runs straight off those views.
  const x = imageBatch(await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 1), 0, 1);
  const out = execute(prepareGraph(graph, { batch: 1 }), { input: x }).logits;
  assert.equal(out.data.length, 10);
});

Deno.test("load: truncated, bit-flipped and version-bumped .eqp give typed errors", async () => {
  const bytes = await packedR14();
  const codes = new Set<string>();
  const expectTyped = async (b: Uint8Array, want: string[]) => {
    try {
      await load(b);
      assert.fail("loaded a damaged file");
    } catch (e) {
      assert.ok(e instanceof EdgeqError, `not an EdgeqError: ${e}`);
      assert.ok(want.includes(e.code), `${e.code}: ${e.message}`);
      codes.add(e.code);
    }
  };
  for (const len of [0, 7, 63, 64, 200, bytes.length >> 1, bytes.length - 1]) {
    await expectTyped(bytes.slice(0, len), ["E_FORMAT", "E_CHECKSUM", "E_BAD_MODEL"]);
  }
  for (const pos of [20, 100, 3000, bytes.length >> 1, bytes.length - 5]) {
    const b = bytes.slice();
    b[pos] ^= 0x10;
    await expectTyped(b, ["E_FORMAT", "E_CHECKSUM", "E_VERSION"]);
  }
  const v = bytes.slice();
  v[8] += 1; // major version (u16 LE at offset 8)
  await expectTyped(v, ["E_VERSION"]);
  assert.ok(codes.has("E_CHECKSUM") && codes.has("E_VERSION"));
});

async function cli(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write=/tmp", `${ROOT}cli.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("cli quantize --json writes atomically; eval and inspect read the file", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/r14.eqp`;
  const r = await cli(
    "quantize",
    R14,
    "--calib",
    `${ROOT}tests/fixtures/fmnist_calib`,
    "--calib-limit",
    "64",
    "--out",
    out,
    "--method",
    "minmax",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(j.out, out);
  assert.equal(j.bytes, (await Deno.stat(out)).size);
  assert.ok(j.float_bytes > j.bytes && j.layers === 16, `${j.layers} layers`); // 15 conv + 1 linear
  assert.deepEqual(
    [...Deno.readDirSync(dir)].map((e) => e.name),
    ["r14.eqp"],
    "no temp files left",
  );
  const e = await cli(
    "eval",
    out,
    "--data",
    `${ROOT}tests/fixtures/fmnist`,
    "--limit",
    "50",
    "--json",
  );
  assert.equal(e.code, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout.trim().split("\n").at(-1)!).n, 50);
  const i = await cli("inspect", out, "--json");
  const ij = JSON.parse(i.stdout.trim().split("\n").at(-1)!);
  assert.equal(ij.checksums_ok, true);
  assert.ok(ij.layers.every((l: { bits: number }) => l.bits === 8));
  // A failing write (missing folder) leaves nothing behind and exits 2.
  const bad = await cli(
    "quantize",
    R14,
    "--calib",
    `${ROOT}tests/fixtures/fmnist_calib`,
    "--calib-limit",
    "8",
    "--out",
    `${dir}/missing/x.eqp`,
  );
  assert.equal(bad.code, 2, bad.stderr);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["r14.eqp"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("quantize: Conv+Add(+Relu) fused into QConv with a residual input, bit-identical to unfused", async () => {
  const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 128 });
  const unfused = quantize(await Deno.readFile(R14), calib, { fuseResidual: false });
  const fusedBytes = await packedR14();
  const g = loadPackedGraph(fusedBytes).graph;
  const residual = g.nodes.filter((n) => n.op === "QConv" && n.inputs.length === 4);
  assert.equal(residual.length, 6, "one fused conv per residual block");
  assert.equal(g.nodes.filter((n) => n.op === "QAdd").length, 0);
  assert.equal(loadPackedGraph(unfused.bytes).graph.nodes.filter((n) => n.op === "QAdd").length, 6);
  const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 48);
  const x = imageBatch(set, 0, 48);
  const a = (await (await load(fusedBytes)).run({ input: x })).logits.data;
  const b = (await (await load(unfused.bytes)).run({ input: x })).logits.data;
  assert.deepEqual([...a], [...b]);
  assert.ok(new Set(a).size > 100, "outputs vary");
});

Deno.test("gating on int8 graphs: QConv-residual and QAdd joins are blocks; skipping is bit-identical fused vs unfused", async () => {
  const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 128 });
  const unfused = await load(
    quantize(await Deno.readFile(R14), calib, { fuseResidual: false }).bytes,
  );
  const fused = await load(await packedR14());
  const float = await load(R14);
  const shapes = { input: [16, 1, 28, 28] };
  const bf = fused.bound(shapes).blocks, bu = unfused.bound(shapes).blocks;
  assert.equal(bf.length, 6);
  assert.equal(bu.length, 6);
  assert.equal(float.bound(shapes).blocks.length, 6);
  for (const b of bf) {
    assert.equal(fused.bound(shapes).nodes.find((n) => n.name === b.join)?.op, "QConv");
  }
  const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 16);
  const x = imageBatch(set, 0, 16);
  const base = (await fused.run({ input: x })).logits.data;
  for (const skip of [[0], [3], [1, 5], [0, 1, 2, 3, 4, 5]]) {
    const a = (await fused.run({ input: x }, { skipBlocks: skip })).logits.data;
    const b = (await unfused.run({ input: x }, { skipBlocks: skip })).logits.data;
    assert.deepEqual([...a], [...b], `skip ${skip}`);
    assert.ok(a.some((v, i) => v !== base[i]), `skipping ${skip} changes the output`);
    // The int8 model with blocks skipped tracks the float model with the same blocks skipped.
    const f = (await float.run({ input: x }, { skipBlocks: skip })).logits.data;
    const agree = top1(a, 16).filter((c, i) => c === top1(f, 16)[i]).length;
    assert.ok(agree >= 13, `skip ${skip}: top-1 agreement ${agree}/16`);
  }
});

Deno.test("quantize: ViT int8 keeps its accuracy; LayerNorm/Softmax/GELU are integer ops, only pre-processing stays float", async () => {
  const VIT = `${ROOT}tests/fixtures/vit_op17.onnx`;
  const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 64 });
  const r = quantize(await Deno.readFile(VIT), calib);
  assert.ok(r.bytes.length <= 0.3 * (await Deno.stat(VIT)).size, `${r.bytes.length} bytes`);
  const floatOps = new Set(r.floatIslands.map((s) => /\((\w+)\)$/.exec(s)![1]));
  for (const op of floatOps) {
    assert.ok(
      ["Sub", "Div", "Pad"].includes(op),
      op,
    );
  }
  // Every weight-bearing MatMul/Gemm/Conv and the position-embedding Add are integer.
  const g = loadPackedGraph(r.bytes).graph;
  assert.equal(g.nodes.filter((n) => n.op === "QGemm").length, 4 * 6 + 1);
  assert.equal(g.nodes.filter((n) => n.op === "QMatMul").length, 4 * 2);
  assert.equal(g.nodes.filter((n) => n.op === "QLayerNorm").length, 4 * 2 + 1);
  assert.equal(g.nodes.filter((n) => n.op === "QSoftmax").length, 4);
  assert.equal(g.nodes.filter((n) => n.op === "QLut").length, 4); // the Erf-GELUs
  assert.ok(
    g.nodes.some((n) =>
      n.op === "QAdd" && n.inputs[1].endsWith("::q") &&
      g.initializers.get(n.inputs[1])?.dtype === "uint8"
    ),
  );
  const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 200);
  const x = imageBatch(set, 0, 200);
  const pq = top1((await (await load(r.bytes)).run({ input: x })).logits.data, 200);
  const pf = top1((await (await load(VIT)).run({ input: x })).logits.data, 200);
  const acc = (p: number[]) => p.filter((c, i) => c === set.labels[i]).length / 200;
  assert.ok(acc(pq) >= acc(pf) - 0.02, `int8 ${acc(pq)} vs float ${acc(pf)}`);
  assert.ok(pq.filter((c, i) => c === pf[i]).length >= 190, "top-1 agreement with float ≥ 95%");
});

Deno.test("quantize: Conv → Clip(0, 6) (ReLU6) becomes the QConv's clamp, equal to quantizing the clipped float", async () => {
  const { buildModel } = await import("./onnx_build.ts");
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const w = Array.from({ length: 8 * 3 * 9 }, () => rnd() * 2);
  const bytes = buildModel({
    nodes: [
      { op: "Conv", inputs: ["x", "w"], outputs: ["c"], ints: { pads: [1, 1, 1, 1] } },
      { op: "Clip", inputs: ["c", "lo", "hi"], outputs: ["r6"] },
      { op: "GlobalAveragePool", inputs: ["r6"], outputs: ["y"] },
    ],
    inputs: [["x", ["N", 3, 9, 9]]],
    outputs: [["y", ["N", 8, 1, 1]]],
    inits: [
      { name: "w", dims: [8, 3, 3, 3], data: w },
      { name: "lo", dims: [], data: [0] },
      { name: "hi", dims: [], data: [6] },
    ],
    opset: 13,
  });
  const data = new Float32Array(64 * 3 * 81).map(() => rnd() * 3);
  const calib = {
    n: 64,
    sampleShape: [3, 9, 9],
    batch: (o: number, c: number) => ({
      dtype: "float32" as const,
      shape: [c, 3, 9, 9],
      data: data.slice(o * 243, (o + c) * 243),
    }),
  };
  const r = quantize(bytes, calib);
  assert.deepEqual(r.floatIslands, []);
  assert.deepEqual(r.layers[0].fused, ["Clip"]);
  const g = loadPackedGraph(r.bytes).graph;
  const conv = g.nodes.find((n) => n.op === "QConv")!;
  // The clamp is [q(0), q(6)] in the Clip output's parameters.
  const { readPacked } = await import("../runtime/format/reader.ts");
  const model = readPacked(r.bytes).model as {
    activations: Record<string, { scale: number; zero_point: number }>;
  };
  const p = model.activations[conv.outputs[0]];
  assert.equal(conv.attrs.qmin, p.zero_point);
  assert.equal(conv.attrs.qmax, Math.min(255, p.zero_point + Math.round(6 / p.scale)));
  // int8 output tracks the float model.
  const x = calib.batch(0, 16);
  const a = (await (await load(r.bytes)).run({ x })).y.data;
  const b = (await (await load(bytes)).run({ x })).y.data;
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) < 0.05, `${i}: ${a[i]} vs ${b[i]}`);
  }
});

Deno.test("quantize: weightBits narrows every QConv/QGemm weight to ±(2^(b-1)-1); bad values are E_USAGE", async () => {
  const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 32 });
  const onnx = await Deno.readFile(R14);
  for (const bits of [7, 4]) {
    const { graph } = loadPackedGraph(quantize(onnx, calib, { weightBits: bits }).bytes);
    const qm = (1 << (bits - 1)) - 1;
    let layers = 0;
    for (const n of graph.nodes.filter((n) => n.op === "QConv" || n.op === "QGemm")) {
      const w = graph.initializers.get(n.inputs[1])!.data as Int8Array;
      let lo = 0, hi = 0;
      for (const v of w) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      // Symmetric per channel: the largest weight of some channel reaches ±qm.
      assert.ok(lo >= -qm && hi <= qm && Math.max(-lo, hi) === qm, `${n.name}: ${lo}..${hi}`);
      layers++;
    }
    assert.equal(layers, 16);
  }
  for (const bad of [1, 9, 7.5]) {
    assert.throws(
      () => quantize(onnx, calib, { weightBits: bad }),
      (e) => e instanceof EdgeqError && e.code === "E_USAGE",
    );
  }
});
