/**
 * Calibration (quantizer/calib/): streaming statistics equal the batch ones (tails,
 * Welford moments, histogram counts, per channel too), the fake-quant executor
 * equals execute() when nothing is quantized, .npy sample folders load, and on the
 * ResNet-14 fixture the variance-clipped ranges give a mean layer-output Pearson
 * similarity at least min/max's.
 */
import assert from "node:assert/strict";
import { importOnnx } from "../quantizer/onnx_import.ts";
import { BoundGraphs, collectStats, selectTensors } from "../quantizer/calib/collect.ts";
import { minMax, scaleFor, varianceClipped } from "../quantizer/calib/estimators.ts";
import { executeFakeQuant } from "../quantizer/calib/fakequant.ts";
import { foldAbs, histTotal, StreamingHistogram } from "../quantizer/calib/histogram.ts";
import {
  calibrationReport,
  layerSimilarity,
  modelAgreement,
  pearson,
  PearsonAccumulator,
  renderAgreement,
  renderSimilarity,
} from "../quantizer/calib/report.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { moments, TensorStatsCollector } from "../quantizer/calib/stats.ts";
import { TailBuffer, tailSize } from "../quantizer/calib/tails.ts";
import { execute } from "../runtime/executor.ts";

let seed = 99;
function uniform(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return (seed + 0.5) / 2 ** 32;
}
function gauss(): number {
  return Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}
/** Heavy-ish tailed values with ties (rounded) and a drift between batches. */
function sample(n: number, drift = 0): Float32Array {
  return Float32Array.from({ length: n }, () => Math.round(100 * (gauss() ** 3 + drift)) / 100);
}

const FIX = "tests/fixtures";

Deno.test("TailBuffer: streamed k largest / smallest equal a full sort", () => {
  const batches = [sample(5000), sample(3, 5), sample(20000, -1), sample(700, 2)];
  const all = Float64Array.from(batches.flatMap((b) => [...b])).sort();
  for (const k of [1, 8, 100, 1500]) {
    const top = new TailBuffer(k, "largest"), bot = new TailBuffer(k, "smallest");
    for (const b of batches) {
      top.add(b);
      bot.add(b);
    }
    assert.deepEqual([...top.values()], [...all.slice(-k)].reverse());
    assert.deepEqual([...bot.values()], [...all.slice(0, k)]);
  }
  const t = new TailBuffer(4, "largest");
  t.add([NaN, 1, 2]);
  assert.deepEqual([...t.values()], [2, 1]);
  // Strided input (channel-last).
  const s = new TailBuffer(2, "smallest");
  s.add([9, 0, 8, 0, 7, 0, 6, 0], 0, 4, 2);
  assert.deepEqual([...s.values()], [6, 7]);
  assert.equal(tailSize(1e6), 1000);
  assert.equal(tailSize(100), 8);
});

Deno.test("TensorStatsCollector: streamed moments, min/max, tails, histogram = batch values", () => {
  const shape = [8, 3, 5, 7], per = 3 * 35;
  const batches = [sample(8 * per, 0), sample(8 * per, 3), sample(8 * per, -2)];
  const c = new TensorStatsCollector("x", { expectedCount: 24 * per, channelAxis: 1, minTail: 16 });
  for (const b of batches) c.add(b, shape);
  const s = c.finish();
  const all = Float32Array.from(batches.flatMap((b) => [...b]));
  const m = moments(all);
  assert.equal(s.count, all.length);
  assert.ok(Math.abs(s.mean - m.mean) < 1e-12 * Math.max(1, Math.abs(m.mean)));
  assert.ok(Math.abs(s.m2 - m.m2) < 1e-9 * m.m2);
  const sorted = Float64Array.from(all).sort();
  assert.equal(s.min, sorted[0]);
  assert.equal(s.max, sorted.at(-1));
  assert.equal(s.k, 16);
  assert.deepEqual([...s.top], [...sorted.slice(-16)].reverse());
  // Histogram: every value counted once; counts equal direct binning at the final ranges.
  assert.equal(histTotal(s.hist), all.length);
  const pos = new Float64Array(2048), neg = new Float64Array(2048);
  for (const v of all) {
    if (v >= 0) pos[Math.min(2047, Math.floor(v * (2048 / s.hist.posRange)))]++;
    else neg[Math.min(2047, Math.floor(-v * (2048 / s.hist.negRange)))]++;
  }
  assert.deepEqual([...s.hist.pos], [...pos]);
  assert.deepEqual([...s.hist.neg], [...neg]);
  // Per channel (axis 1).
  const ch = s.channel!;
  assert.equal(ch.channels, 3);
  for (let k = 0; k < 3; k++) {
    const vals: number[] = [];
    for (const b of batches) {
      for (let n = 0; n < 8; n++) vals.push(...b.subarray((n * 3 + k) * 35, (n * 3 + k + 1) * 35));
    }
    const cs = Float64Array.from(vals).sort(), cm = moments(vals);
    assert.equal(ch.count[k], vals.length);
    assert.equal(ch.min[k], cs[0]);
    assert.equal(ch.max[k], cs.at(-1));
    assert.ok(Math.abs(ch.mean[k] - cm.mean) < 1e-12 * Math.max(1, Math.abs(cm.mean)));
    assert.ok(Math.abs(ch.m2[k] - cm.m2) < 1e-9 * cm.m2);
    assert.deepEqual([...ch.top[k]], [...cs.slice(-ch.k)].reverse());
    assert.deepEqual([...ch.bottom[k]], [...cs.slice(0, ch.k)]);
  }
});

Deno.test("StreamingHistogram grows by exact power-of-two re-binning", () => {
  const h = new StreamingHistogram(16);
  const batches = [[0, 0, 0], [1, 0.5, -0.25], [3.9, -7], [0.01, 1.0625, -0.1]];
  for (const b of batches) h.add(b);
  const s = h.snapshot();
  const r0 = 1 + 1 / 16; // first non-zero batch's max |x|, plus one bin
  assert.equal(s.posRange, 4 * r0);
  assert.equal(s.negRange, 8 * r0);
  assert.equal(histTotal(s), 11);
  // Identical to binning every value directly at the final ranges.
  const pos = new Array(16).fill(0), neg = new Array(16).fill(0);
  for (const v of batches.flat()) {
    if (v >= 0) pos[Math.floor(v * (16 / s.posRange))]++;
    else neg[Math.floor(-v * (16 / s.negRange))]++;
  }
  assert.deepEqual([...s.pos], pos);
  assert.deepEqual([...s.neg], neg);
  assert.equal(pos[0], 4);
  const f = foldAbs(s);
  assert.equal(f.range, 8 * r0);
  assert.equal(f.counts.reduce((a, b) => a + b, 0), 11);
  assert.equal(f.counts[13], 1); // |-7| in bin 13 of [0, 8.5)
});

Deno.test("Pearson: streaming equals direct, fused fake-quant equals explicit", () => {
  const x = sample(10000, 50), y = Float32Array.from(x, (v) => 2 * v + gauss());
  const acc = new PearsonAccumulator();
  for (let s = 0; s < x.length; s += 999) acc.add(x.subarray(s, s + 999), y.subarray(s, s + 999));
  const mx = x.reduce((a, b) => a + b, 0) / x.length, my = y.reduce((a, b) => a + b, 0) / y.length;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  const direct = sxy / Math.sqrt(sxx * syy);
  assert.ok(Math.abs(acc.value() - direct) < 1e-10);
  assert.ok(Math.abs(pearson(x, y) - direct) < 1e-10);
  assert.ok(Math.abs(pearson(x, x) - 1) < 1e-12);
  assert.ok(Math.abs(pearson(x, x.map((v) => -v)) + 1) < 1e-12);
  const qp = scaleFor({ lo: -20, hi: 80 }, 4);
  const fused = new PearsonAccumulator(), plain = new PearsonAccumulator();
  fused.addFakeQuant(x, qp);
  const fq = x.map((v) => {
    const q = Math.min(qp.qmax, Math.max(qp.qmin, Math.round(v / qp.scale) + qp.zeroPoint));
    return (q - qp.zeroPoint) * qp.scale;
  });
  plain.add(x, fq);
  assert.ok(Math.abs(fused.value() - plain.value()) < 1e-9);
});

Deno.test("loadSamples reads a folder of .npy files (one sample or a batch each)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgeq_calib_" });
  try {
    const npy = (shape: number[], data: Float32Array) => {
      let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")},), }`;
      header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
      const out = new Uint8Array(10 + header.length + data.byteLength);
      out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
      out.set(new TextEncoder().encode(header), 10);
      out.set(new Uint8Array(data.buffer), 10 + header.length);
      return out;
    };
    await Deno.writeFile(`${dir}/a.npy`, npy([1, 2, 3], Float32Array.from([0, 1, 2, 3, 4, 5])));
    await Deno.writeFile(
      `${dir}/b.npy`,
      npy([2, 2, 3], Float32Array.from({ length: 12 }, (_, i) => 10 + i)),
    );
    const s = await loadSamples(dir, { sampleShape: [2, 3] });
    assert.equal(s.n, 3);
    assert.deepEqual(s.sampleShape, [2, 3]);
    const b = s.batch(1, 2);
    assert.deepEqual(b.shape, [2, 2, 3]);
    assert.deepEqual([...b.data], Array.from({ length: 12 }, (_, i) => 10 + i));
    const lim = await loadSamples(dir, { limit: 2, offset: 1 });
    assert.equal(lim.n, 2);
    assert.equal(lim.batch(0, 1).data[0], 10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ResNet-14: calibration stats, fake-quant executor, variance-clipped >= minmax", async () => {
  const graphs = new BoundGraphs(importOnnx(await Deno.readFile(`${FIX}/resnet14_op13.onnx`)));
  const samples = await loadSamples(`${FIX}/fmnist_calib`, { limit: 96 });
  const calibSet = { ...samples, n: 64 };
  const heldOut = {
    ...samples,
    n: 32,
    labels: samples.labels!.subarray(64, 96),
    batch: (s: number, c: number) => samples.batch(64 + s, c),
  };

  // Observed set is a parameter.
  const only = selectTensors(graphs.get(4), { ops: ["Relu"], inputs: false });
  assert.ok(only.length === 13 && only.every((t) => t.op === "Relu"));

  const t0 = performance.now();
  const calib = collectStats(graphs, calibSet);
  const tCal = performance.now() - t0;
  assert.equal(calib.samples, 64);
  assert.equal(calib.tensors[0].op, "input");
  const conv = calib.stats.get(calib.tensors.find((t) => t.op === "Conv")!.name)!;
  assert.equal(conv.count, 64 * 16 * 28 * 28);
  assert.equal(conv.k, Math.ceil(1e-3 * conv.count)); // fixed up front from the sample count
  assert.equal(conv.channel!.channels, 16);
  assert.equal(conv.channel!.count[0], 64 * 28 * 28);

  // With nothing to quantize the fake-quant loop is execute(); with ranges it changes the logits.
  const g = graphs.get(8), x = samples.batch(0, 8), feeds = { [g.inputs[0].name]: x };
  const ref = execute(g, feeds)[g.outputs[0].name];
  assert.deepEqual(executeFakeQuant(g, feeds, new Map())[g.outputs[0].name].data, ref.data);
  const q = new Map(
    calib.tensors.map((t) => [t.name, scaleFor(minMax().estimate(calib.stats.get(t.name)!), 4)]),
  );
  const fq = executeFakeQuant(g, feeds, q)[g.outputs[0].name];
  assert.notDeepEqual(fq.data, ref.data);

  const t1 = performance.now();
  const rep = layerSimilarity(graphs, calib, heldOut);
  const tRep = performance.now() - t1;
  console.log(renderSimilarity(rep));
  const mm = rep.estimators.indexOf("minmax"), vc = rep.estimators.indexOf("varclip");
  rep.bits.forEach((b, i) =>
    console.log(
      `${b}-bit mean Pearson: minmax ${rep.mean[i][mm].toFixed(6)}, varclip ${
        rep.mean[i][vc].toFixed(6)
      }`,
    )
  );
  console.log(`calibration ${tCal.toFixed(0)} ms, report ${tRep.toFixed(0)} ms`);
  assert.equal(rep.layers.length, calib.tensors.length);
  // 4 bits: clipping the tails pays off clearly. 8 bits: with only 64 calibration
  // images the observed max already under-covers the held-out tail, and the two are
  // within ~1e-5 (variance-clipped is ahead at 384 images, see the report); the
  // requirement there is ALGORITHMS.md B's "never lose badly".
  const b4 = rep.bits.indexOf(4), b8 = rep.bits.indexOf(8);
  assert.ok(rep.mean[b4][vc] >= rep.mean[b4][mm]);
  assert.ok(rep.mean[b8][vc] >= rep.mean[b8][mm] - 1e-4);
  for (const l of rep.layers) assert.ok(l.pearson[0].every((p) => p > 0.99), l.tensor);

  // Whole model at 8 bits on the held-out slice: agrees with float almost always.
  const agr = modelAgreement(graphs, calib, heldOut, {
    estimators: [minMax(), varianceClipped()],
    bits: [8],
  });
  console.log(renderAgreement(agr));
  for (const r of agr.rows) assert.ok(r.agreement >= 0.9, `${r.estimator} ${r.agreement}`);
  assert.ok(agr.floatAccuracy! >= 0.8);

  // calibrationReport splits calibration / held-out itself.
  const small = calibrationReport(graphs, { ...samples, n: 16 }, {
    estimators: [minMax()],
    bits: [8],
    ops: ["Conv"],
    inputs: false,
  });
  assert.equal(small.calib.samples, 12);
  assert.equal(small.report.samples, 4);
  assert.equal(small.report.layers.length, 15);
});
