/**
 * ONNX QDQ export (quantizer/export_qdq.ts): structure of the exported model, the
 * scales it carries, agreement of onnxruntime-web running it with edgeq's integer
 * pipeline (ResNet-14 on 300 images; a hand-built graph with odd shapes, sub-byte
 * weights, groups and a rank-3 QGemm), re-import through edgeq's ONNX importer, the
 * ONNX quantized-op node tests, the CLI (atomic write) and error paths.
 *
 * Tolerances (the two pipelines round differently: ONNX QuantizeLinear ties to even
 * and a float32 requantization multiplier, edgeq ties away and fixed-point MBQM):
 * outputs are compared in units of the output quantization step.
 */
import assert from "node:assert/strict";
import onnx from "onnx-proto";
import { exportQdq } from "../quantizer/export_qdq.ts";
import { quantize } from "../quantizer/quantize.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { importOnnx } from "../quantizer/onnx_import.ts";
import { load } from "../runtime/model.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import { execute } from "../runtime/executor.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import { readPacked } from "../runtime/format/reader.ts";
import { writePacked } from "../runtime/format/writer.ts";
import { EdgeqError } from "../runtime/errors.ts";
import { addMultipliers, quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import { OrtPeer } from "./peer/ort.ts";
import { runSuite, testdataPresent } from "./onnx_backend_cases.ts";
import { main } from "../cli.ts";

const P = onnx.onnx;
const ORT_OPTS = { sanitizeResources: false, sanitizeOps: false };

let cached: { eqp: Uint8Array; qdq: Uint8Array } | undefined;
/** ResNet-14 quantized with 64 calibration images, and its QDQ export (built once). */
async function resnet(): Promise<{ eqp: Uint8Array; qdq: Uint8Array }> {
  if (!cached) {
    const calib = await loadSamples("tests/fixtures/fmnist_calib", { limit: 64 });
    const eqp = quantize(await Deno.readFile("tests/fixtures/resnet14_op13.onnx"), calib).bytes;
    cached = { eqp, qdq: exportQdq(eqp).bytes };
  }
  return cached;
}

function argmax(d: ArrayLike<number>, off: number, n: number): number {
  let b = 0;
  for (let i = 1; i < n; i++) if (d[off + i] > d[off + b]) b = i;
  return b;
}

/** The fields of decoded protobuf messages these tests read. */
interface TP {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}
interface NP {
  name: string;
  opType: string;
  domain: string;
  input: string[];
  output: string[];
  attribute: { name: string; i: number }[];
}

function decodeModel(bytes: Uint8Array): { opset: number; node: NP[]; initializer: TP[] } {
  const m = P.ModelProto.decode(bytes);
  const g = m.graph as unknown as { node: NP[]; initializer: TP[] };
  const opset = Number(m.opsetImport.find((o) => !o.domain)!.version);
  return { opset, node: g.node, initializer: g.initializer };
}

function floatOf(t: TP): number[] {
  const raw = t.rawData;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: raw.byteLength / 4 }, (_, i) => dv.getFloat32(4 * i, true));
}

Deno.test("QDQ export: standard ops, uint8 activations, int8 per-channel weights, edgeq's scales", async () => {
  const { eqp, qdq } = await resnet();
  const g = decodeModel(qdq);
  assert.equal(g.opset, 13);
  const ops = new Map<string, number>();
  for (const n of g.node) {
    assert.equal(n.domain ?? "", "", `node ${n.name} in a non-standard domain`);
    ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
  }
  assert.equal(ops.get("Conv"), 15);
  assert.equal(ops.get("Gemm"), 1);
  assert.equal(ops.get("Add"), 6); // the residual adds, in float between DQ and Q
  assert.ok((ops.get("QuantizeLinear") ?? 0) >= 23);
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const producer = new Map<string, NP>();
  for (const n of g.node) for (const o of n.output) producer.set(o, n);
  const manifest = readPacked(eqp).model as {
    activations: Record<string, { scale: number; zero_point: number }>;
    nodes: { name: string; op: string; inputs: string[]; attrs: Record<string, unknown> }[];
  };
  let residual = 0;
  // Every Conv/Gemm reads three DequantizeLinear outputs: uint8 x, int8 w (axis 0), int32 b.
  for (const n of g.node.filter((n) => n.opType === "Conv" || n.opType === "Gemm")) {
    const [x, w, b] = n.input.map((i) => producer.get(i)!);
    for (const d of [x, w, b]) assert.equal(d.opType, "DequantizeLinear", n.name);
    assert.equal(inits.get(x.input[2])!.dataType, P.TensorProto.DataType.UINT8);
    assert.equal(inits.get(w.input[0])!.dataType, P.TensorProto.DataType.INT8);
    assert.equal(inits.get(b.input[0])!.dataType, P.TensorProto.DataType.INT32);
    assert.equal(Number(w.attribute.find((a) => a.name === "axis")?.i), 0);
    const mOut = Number(inits.get(w.input[0])!.dims[0]);
    assert.equal(inits.get(w.input[1])!.dims.map(Number).join(), String(mOut));
    // The weight scales reproduce the multipliers edgeq requantizes with.
    const q = manifest.nodes.find((e) => e.name === n.name)!;
    const sx = manifest.activations[q.inputs[0]].scale;
    // The conv requantizes to y, or (fused residual) to its intermediate c.
    const qout = g.node.find((e) =>
      e.opType === "QuantizeLinear" &&
      (e.name === `${n.name}::QuantizeLinear` || e.name === `${n.name}::QuantizeLinear_c`)
    )!;
    const sy = floatOf(inits.get(qout.input[1])!)[0];
    if (q.inputs.length < 4) {
      assert.equal(sy, Math.fround(manifest.activations[qout.output[0]].scale));
    } else residual++;
    const sw = floatOf(inits.get(w.input[1])!);
    const mult = q.attrs.mult as number[], shift = q.attrs.shift as number[];
    for (let k = 0; k < mOut; k++) {
      const want = mult[k] * 2 ** (shift[k] - 31);
      const got = sx * sw[k] / sy;
      assert.ok(Math.abs(got / want - 1) < 2 ** -20, `${n.name}[${k}]: ${got} vs ${want}`);
      const re = quantizeMultiplier(got);
      assert.ok(Math.abs(re.mult * 2 ** (re.shift - 31) / want - 1) < 2 ** -20);
    }
  }
  assert.equal(residual, 6, "the six residual Adds are fused into QConvs");
  // Every activation scale / zero point is edgeq's, rounded to float32.
  let checked = 0;
  for (const n of g.node.filter((n) => n.opType === "QuantizeLinear")) {
    if (n.name.endsWith("::QuantizeLinear_c")) continue; // a fused conv's intermediate
    const a = manifest.activations[n.output[0]];
    assert.ok(a, `no manifest entry for ${n.output[0]}`);
    assert.equal(floatOf(inits.get(n.input[1])!)[0], Math.fround(a.scale));
    assert.equal(inits.get(n.input[2])!.rawData[0], a.zero_point);
    checked++;
  }
  assert.equal(checked, 18); // input, 15 convs, the pool, the fc
});

Deno.test({
  name: "QDQ export: onnxruntime-web on the exported ResNet-14 agrees with edgeq int8 (300 images)",
  ...ORT_OPTS,
  async fn() {
    const { eqp, qdq } = await resnet();
    const set = await loadIdxDir("tests/fixtures/fmnist", 300);
    const model = await load(eqp);
    const peer = await OrtPeer.create(qdq, { threads: 1 });
    const outScale = (readPacked(eqp).model as { activations: Record<string, { scale: number }> })
      .activations["logits::qout"].scale;
    let agree = 0, ce = 0, co = 0, sumSteps = 0, maxSteps = 0, n = 0;
    for (let s = 0; s < set.n; s += 100) {
      const x = imageBatch(set, s, 100, 1);
      const e = (await model.run({ input: x })).logits.data;
      const o = (await peer.run({ input: { shape: x.shape, data: x.data as Float32Array } }))
        .logits.data;
      for (let i = 0; i < 100; i++) {
        const be = argmax(e, i * 10, 10), bo = argmax(o, i * 10, 10);
        if (be === bo) agree++;
        if (be === set.labels[s + i]) ce++;
        if (bo === set.labels[s + i]) co++;
      }
      for (let i = 0; i < e.length; i++) {
        const d = Math.round(Math.abs(e[i] - o[i]) / outScale);
        sumSteps += d;
        maxSteps = Math.max(maxSteps, d);
        n++;
      }
    }
    await peer.release();
    console.log(
      `edgeq top-1 ${ce / 3}%, ORT(QDQ) ${co / 3}%, argmax agreement ${(agree / 3).toFixed(1)}%, ` +
        `logit diff mean ${(sumSteps / n).toFixed(2)} / max ${maxSteps} output steps`,
    );
    assert.ok(ce / set.n > 0.85, "edgeq int8 is a working classifier");
    assert.ok(agree / set.n >= 0.98, `argmax agreement ${agree / set.n}`);
    assert.ok(Math.abs(ce - co) <= 3, `top-1 differs by ${ce - co} images`);
    assert.ok(sumSteps / n < 1.5, `mean difference ${sumSteps / n} steps`);
    assert.ok(maxSteps <= 8, `max difference ${maxSteps} steps`);
  },
});

for (const onnxName of ["vit_op17", "vit_op13"]) {
  Deno.test({
    name:
      `QDQ export: ${onnxName} int8 (QLayerNorm, QSoftmax, QLut) runs in onnxruntime-web and agrees with edgeq (100 images)`,
    ...ORT_OPTS,
    async fn() {
      const calib = await loadSamples("tests/fixtures/fmnist_calib", { limit: 32 });
      const eqp = quantize(await Deno.readFile(`tests/fixtures/${onnxName}.onnx`), calib).bytes;
      const r = exportQdq(eqp);
      for (const op of ["QLayerNorm", "QSoftmax", "QLut"]) assert.ok(r.quantizedOps[op] > 0, op);
      const set = await loadIdxDir("tests/fixtures/fmnist", 100);
      const model = await load(eqp);
      const peer = await OrtPeer.create(r.bytes, { threads: 1 });
      let agree = 0, ce = 0, co = 0;
      try {
        for (let s = 0; s < set.n; s += 100) {
          const x = imageBatch(set, s, 100, 1);
          const e = (await model.run({ input: x })).logits.data;
          const o = (await peer.run({ input: { shape: x.shape, data: x.data as Float32Array } }))
            .logits.data;
          for (let i = 0; i < 100; i++) {
            const be = argmax(e, i * 10, 10), bo = argmax(o, i * 10, 10);
            if (be === bo) agree++;
            if (be === set.labels[s + i]) ce++;
            if (bo === set.labels[s + i]) co++;
          }
        }
      } finally {
        await peer.release();
      }
      console.log(
        `${onnxName}: edgeq top-1 ${ce}%, ORT(QDQ) ${co}%, argmax agreement ${agree}%`,
      );
      assert.ok(agree / set.n >= 0.95, `argmax agreement ${agree / set.n}`);
      assert.ok(Math.abs(ce - co) <= 3, `top-1 differs by ${ce - co} images`);
    },
  });
}

Deno.test({
  name: "QDQ export: the exported model imports back into edgeq (ONNX quantized ops on ref)",
  ...ORT_OPTS,
  async fn() {
    const { qdq } = await resnet();
    const g = importOnnx(qdq);
    const ops = new Set(g.nodes.map((n) => n.op));
    assert.ok(ops.has("QuantizeLinear") && ops.has("DequantizeLinear"));
    const set = await loadIdxDir("tests/fixtures/fmnist", 40);
    const x = imageBatch(set, 0, 40, 1);
    const ref = execute(prepareGraph(g, { batch: 40 }), { input: x }).logits.data;
    const peer = await OrtPeer.create(qdq, { threads: 1 });
    const o = (await peer.run({ input: { shape: x.shape, data: x.data as Float32Array } })).logits
      .data;
    await peer.release();
    let agree = 0;
    for (let i = 0; i < 40; i++) if (argmax(ref, i * 10, 10) === argmax(o, i * 10, 10)) agree++;
    let maxd = 0;
    for (let i = 0; i < o.length; i++) maxd = Math.max(maxd, Math.abs(ref[i] - o[i]));
    assert.ok(agree >= 39, `argmax agreement ${agree}/40`);
    assert.ok(maxd < 0.5, `max logit difference ${maxd}`);
  },
});

/** Deterministic pseudo-random numbers (LCG). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A hand-built packed graph: x [1,5,9,7] → Q → QConv i4 (k 3×2, pads, stride 2×1) →
 * QConv i8 1×1 group 2 → Reshape [1,4,35] → QGemm rank 3 (b1 ±1 weights) → DQ.
 */
function oddGraph(): Uint8Array {
  const r = rng(7);
  const ri = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const act = {
    "x::q": { scale: 0.02, zero_point: 117 },
    c1: { scale: 0.05, zero_point: 0 },
    c2: { scale: 0.04, zero_point: 131 },
    r: { scale: 0.04, zero_point: 131 },
    g: { scale: 0.006, zero_point: 120 },
  };
  const mults = (sx: number, sw: number[], sy: number) => {
    const q = sw.map((s) => quantizeMultiplier(sx * s / sy));
    return { mult: q.map((v) => v.mult), shift: q.map((v) => v.shift) };
  };
  const w1 = Int8Array.from({ length: 6 * 5 * 3 * 2 }, () => ri(-8, 7));
  const w2 = Int8Array.from({ length: 4 * 3 }, () => ri(-127, 127));
  const w3 = Int8Array.from({ length: 3 * 35 }, () => (r() < 0.5 ? -1 : 1));
  const sw1 = [0.011, 0.02, 0.015, 0.009, 0.013, 0.017];
  const sw2 = [0.004, 0.003, 0.005, 0.0035];
  const sw3 = [0.02, 0.015, 0.025];
  const nodes = [
    {
      name: "q",
      op: "QuantizeLinear8",
      domain: "edgeq",
      inputs: ["x"],
      outputs: ["x::q"],
      attrs: { scale: 0.02, zero_point: 117, dtype: "uint8" },
    },
    {
      name: "conv1",
      op: "QConv",
      domain: "edgeq",
      inputs: ["x::q", "w1", "b1"],
      outputs: ["c1"],
      attrs: {
        kernel_shape: [3, 2],
        pads: [1, 0, 1, 1],
        strides: [2, 1],
        x_zp: 117,
        ...mults(0.02, sw1, 0.05),
        y_zp: 0,
        dtype: "uint8",
        qmin: 0,
        qmax: 255,
        w_layout: "i4",
        w_shape: [6, 5, 3, 2],
      },
    },
    {
      name: "conv2",
      op: "QConv",
      domain: "edgeq",
      inputs: ["c1", "w2"],
      outputs: ["c2"],
      attrs: {
        group: 2,
        x_zp: 0,
        ...mults(0.05, sw2, 0.04),
        y_zp: 131,
        dtype: "uint8",
      },
    },
    {
      name: "reshape",
      op: "Reshape",
      domain: "",
      inputs: ["c2", "shape"],
      outputs: ["r"],
      attrs: {},
    },
    {
      name: "gemm",
      op: "QGemm",
      domain: "edgeq",
      inputs: ["r", "w3", "b3"],
      outputs: ["g"],
      attrs: {
        x_zp: 131,
        ...mults(0.04, sw3, 0.006),
        y_zp: 120,
        dtype: "uint8",
        w_layout: "b1",
        w_shape: [3, 35],
      },
    },
    {
      name: "dq",
      op: "DequantizeLinear8",
      domain: "edgeq",
      inputs: ["g"],
      outputs: ["y"],
      attrs: { scale: 0.006, zero_point: 120 },
    },
  ];
  return writePacked({
    model: {
      format: "edgeq-graph",
      name: "odd",
      opset: 13,
      inputs: [{ name: "x", dtype: "float32", shape: [1, 5, 9, 7] }],
      outputs: [{ name: "y", dtype: "float32", shape: [1, 4, 3] }],
      nodes,
      layers: [],
      activations: Object.fromEntries(
        Object.entries(act).map(([k, v]) => [k, { ...v, dtype: "uint8" }]),
      ),
      method: "minmax",
      const_dtypes: { shape: "int64" },
    },
    producer: { name: "export_qdq_test" },
    tensors: [
      { name: "w1", layout: "i4", shape: [6, 30], data: w1 },
      {
        name: "b1",
        layout: "i32",
        shape: [6],
        data: Int32Array.from({ length: 6 }, () => ri(-300, 300)),
      },
      { name: "w2", layout: "i8", shape: [4, 3, 1, 1], data: w2 },
      { name: "shape", layout: "f32", shape: [3], data: Float32Array.of(1, 4, -1) },
      { name: "w3", layout: "b1", shape: [3, 35], data: w3 },
      {
        name: "b3",
        layout: "i32",
        shape: [3],
        data: Int32Array.from({ length: 3 }, () => ri(-500, 500)),
      },
    ],
  });
}

Deno.test({
  name: "QDQ export: odd shapes, i4/b1 weights, groups, rank-3 QGemm agree with edgeq in ORT",
  ...ORT_OPTS,
  async fn() {
    const eqp = oddGraph();
    const qdq = exportQdq(eqp);
    assert.deepEqual(qdq.quantizedOps, {
      QuantizeLinear8: 1,
      QConv: 2,
      QGemm: 1,
      DequantizeLinear8: 1,
    });
    const model = await load(eqp);
    const peer = await OrtPeer.create(qdq.bytes, { threads: 1 });
    const r = rng(11);
    let same = 0, n = 0, maxSteps = 0;
    const distinct = new Set<number>();
    for (let trial = 0; trial < 20; trial++) {
      const data = Float32Array.from({ length: 5 * 9 * 7 }, () => (r() - 0.4) * 4);
      const e = (await model.run({ x: { dtype: "float32", shape: [1, 5, 9, 7], data } })).y.data;
      const o = (await peer.run({ x: { shape: [1, 5, 9, 7], data } })).y.data;
      for (let i = 0; i < e.length; i++) {
        const d = Math.round(Math.abs(e[i] - o[i]) / 0.006);
        if (d === 0) same++;
        maxSteps = Math.max(maxSteps, d);
        distinct.add(Math.round(e[i] / 0.006));
        n++;
      }
    }
    await peer.release();
    console.log(
      `odd graph: ${same}/${n} outputs identical, max ${maxSteps} steps, ${distinct.size} codes`,
      [...distinct].sort((a, b) => a - b).join(","),
    );
    assert.ok(distinct.size > 20, "outputs are spread over the quantized range");
    assert.ok(same / n >= 0.85, `only ${same}/${n} identical`);
    assert.ok(maxSteps <= 2, `max difference ${maxSteps} steps`);
  },
});

Deno.test("QDQ export: errors name the problem", () => {
  assert.throws(
    () => exportQdq(new TextEncoder().encode("not a packed model")),
    (e) => e instanceof EdgeqError && e.code === "E_FORMAT",
  );
  // A graph whose quantized tensor has no recorded parameters.
  const bytes = writePacked({
    model: {
      format: "edgeq-graph",
      name: "bad",
      opset: 13,
      inputs: [{ name: "x", dtype: "float32", shape: [1, 2, 3, 3] }],
      outputs: [{ name: "y", dtype: "float32", shape: [1, 2, 1, 1] }],
      nodes: [
        {
          name: "q",
          op: "QuantizeLinear8",
          domain: "edgeq",
          inputs: ["x"],
          outputs: ["xq"],
          attrs: { scale: 0.1, zero_point: 3 },
        },
        {
          name: "pool",
          op: "QGlobalAveragePool",
          domain: "edgeq",
          inputs: ["xq"],
          outputs: ["p"],
          attrs: { zero_point: 3 },
        },
        {
          name: "dq",
          op: "DequantizeLinear8",
          domain: "edgeq",
          inputs: ["p"],
          outputs: ["y"],
          attrs: { scale: 0.1, zero_point: 3 },
        },
      ],
      activations: {},
    },
    producer: { name: "test" },
    tensors: [],
  });
  // p's parameters come from the DequantizeLinear8 that reads it: this one exports.
  assert.ok(exportQdq(bytes).nodes > 0);
  const noParams = writePacked({
    model: {
      format: "edgeq-graph",
      name: "bad",
      opset: 13,
      inputs: [{ name: "x", dtype: "float32", shape: [1, 2, 3, 3] }],
      outputs: [{ name: "p", dtype: "uint8", shape: [1, 2, 1, 1] }],
      nodes: [
        {
          name: "q",
          op: "QuantizeLinear8",
          domain: "edgeq",
          inputs: ["x"],
          outputs: ["xq"],
          attrs: { scale: 0.1, zero_point: 3 },
        },
        {
          name: "pool",
          op: "QGlobalAveragePool",
          domain: "edgeq",
          inputs: ["xq"],
          outputs: ["p"],
          attrs: { zero_point: 3 },
        },
      ],
      activations: {},
    },
    producer: { name: "test" },
    tensors: [],
  });
  assert.throws(
    () => exportQdq(noParams),
    (e) =>
      e instanceof EdgeqError && e.code === "E_UNSUPPORTED_OP" && /node 'pool'/.test(e.message) &&
      /tensor 'p'/.test(e.message),
  );
});

Deno.test("export-onnx CLI writes the file atomically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgeq_qdq_" });
  try {
    const eqp = `${dir}/odd.eqp`;
    await Deno.writeFile(eqp, oddGraph());
    const out = `${dir}/odd_qdq.onnx`;
    assert.equal(await main(["export-onnx", eqp, "--out", out, "--json"]), 0);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["odd.eqp", "odd_qdq.onnx"]);
    assert.deepEqual(await Deno.readFile(out), exportQdq(await Deno.readFile(eqp)).bytes);
    await assert.rejects(
      () => main(["export-onnx", eqp]),
      (e) => e instanceof EdgeqError && e.code === "E_USAGE",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "ONNX quantized-op node tests (libonnx-testdata) pass through the importer",
  ignore: !testdataPresent(),
  fn() {
    const s = runSuite(
      "node",
      /^test_(quantizelinear|dequantizelinear|dynamicquantizelinear|qlinear|matmulinteger|.*convinteger)/,
    );
    const bad = s.results.filter((r) => r.status !== "pass").map((r) => `${r.name}: ${r.reason}`);
    assert.deepEqual(bad, []);
    assert.equal(s.passed, 17);
  },
});

Deno.test({
  name: "QDQ export: a quantized constant input (uint8 initializer) is exported",
  ...ORT_OPTS,
  async fn() {
    const pos = Uint8Array.from({ length: 12 }, (_, i) => (i * 37) % 256);
    const bytes = writePacked({
      model: {
        format: "edgeq-graph",
        name: "qconst",
        opset: 13,
        inputs: [{ name: "x", dtype: "float32", shape: [1, 3, 4] }],
        outputs: [{ name: "y", dtype: "float32", shape: [1, 3, 4] }],
        nodes: [
          {
            name: "q",
            op: "QuantizeLinear8",
            domain: "edgeq",
            inputs: ["x"],
            outputs: ["xq"],
            attrs: { scale: 0.05, zero_point: 120, dtype: "uint8" },
          },
          {
            name: "add",
            op: "QAdd",
            domain: "edgeq",
            inputs: ["xq", "pos::q"],
            outputs: ["s"],
            attrs: {
              a_zp: 120,
              b_zp: 128,
              ...(() => {
                const m = addMultipliers(0.05, 0.01, 0.06);
                return {
                  a_mult: m.a.mult,
                  a_shift: m.a.shift,
                  b_mult: m.b.mult,
                  b_shift: m.b.shift,
                  y_mult: m.y.mult,
                  y_shift: m.y.shift,
                };
              })(),
              y_zp: 125,
              dtype: "uint8",
            },
          },
          {
            name: "dq",
            op: "DequantizeLinear8",
            domain: "edgeq",
            inputs: ["s"],
            outputs: ["y"],
            attrs: { scale: 0.06, zero_point: 125 },
          },
        ],
        activations: {
          xq: { scale: 0.05, zero_point: 120, dtype: "uint8" },
          "pos::q": { scale: 0.01, zero_point: 128, dtype: "uint8" },
          s: { scale: 0.06, zero_point: 125, dtype: "uint8" },
        },
      },
      producer: { name: "test" },
      tensors: [{ name: "pos::q", layout: "u8", shape: [3, 4], data: pos }],
    });
    const qdq = exportQdq(bytes).bytes;
    const x = Float32Array.from({ length: 12 }, (_, i) => Math.cos(i) * 3);
    const e =
      (await (await load(bytes)).run({ x: { dtype: "float32", shape: [1, 3, 4], data: x } }))
        .y.data;
    const peer = await OrtPeer.create(qdq, { threads: 1 });
    const o = (await peer.run({ x: { shape: [1, 3, 4], data: x } })).y.data;
    await peer.release();
    for (let i = 0; i < 12; i++) {
      assert.ok(Math.abs(e[i] - o[i]) <= 0.06 + 1e-6, `element ${i}: ${e[i]} vs ${o[i]}`);
    }
    assert.ok(new Set(e).size > 6);
  },
});
