/**
 * Range estimators on synthetic data with known answers (quantizer/calib/estimators.ts):
 * outliers are clipped by percentile / variance-clipped / entropy and kept by min/max;
 * on outlier-free data the variance-clipped range stays at min/max; scaleFor makes
 * 0.0 exact; per-channel ranges have one entry per channel.
 */
import assert from "node:assert/strict";
import {
  defaultTailFraction,
  entropy,
  klThreshold,
  minMax,
  outlierTendency,
  percentile,
  scaleFor,
  varianceClipped,
} from "../quantizer/calib/estimators.ts";
import { fakeQuantize, roundHalfAway } from "../quantizer/calib/fakequant.ts";
import { type TensorStats, TensorStatsCollector } from "../quantizer/calib/stats.ts";
import { EdgeqError } from "../runtime/errors.ts";

let seed = 2024;
function uniform(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return (seed + 0.5) / 2 ** 32;
}
function gauss(): number {
  return Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Streams `data` in batches of `batch` values into a collector and returns its stats. */
function statsOf(
  data: Float32Array,
  shape?: number[],
  channelAxis: number | null = null,
): TensorStats {
  const c = new TensorStatsCollector("t", { expectedCount: data.length, channelAxis });
  if (shape) {
    c.add(data, shape);
  } else {
    const b = 10_000;
    for (let s = 0; s < data.length; s += b) {
      const part = data.subarray(s, Math.min(data.length, s + b));
      c.add(part, [part.length]);
    }
  }
  return c.finish();
}

const N = 200_000;
function gaussWithOutliers(): Float32Array {
  const x = new Float32Array(N);
  for (let i = 0; i < N; i++) x[i] = gauss();
  // A few big outliers on both sides, spread through the stream.
  [40, 55, 38, 61, 45].forEach((v, i) => (x[1000 + 37_000 * i] = v));
  [-30, -42, -35].forEach((v, i) => (x[5000 + 50_000 * i] = v));
  return x;
}

Deno.test("minmax keeps the outliers; percentile and variance-clipped clip them", () => {
  const s = statsOf(gaussWithOutliers());
  const mm = minMax().estimate(s);
  assert.equal(mm.hi, 61);
  assert.equal(mm.lo, -42);
  for (const bits of [8, 4]) {
    for (const est of [percentile(), varianceClipped()]) {
      const r = est.estimate(s, { bits });
      assert.ok(r.hi > 2.5 && r.hi < 6, `${est.name} ${bits}b hi=${r.hi}`);
      assert.ok(r.lo < -2.5 && r.lo > -6, `${est.name} ${bits}b lo=${r.lo}`);
    }
    // KL keeps more of the Gaussian body at 8 bits, but not the outliers.
    const e = entropy().estimate(s, { bits });
    assert.ok(e.hi > 2.5 && e.hi < 20 && e.lo < -2.5 && e.lo > -20, `entropy ${e.lo} ${e.hi}`);
  }
  // Variance-clipped at 4 bits: the tail holds the outliers, var(D) >> var(X) -> deep clip.
  const vc = varianceClipped().estimate(s, { bits: 4 });
  assert.ok(vc.hi < 4, `hi=${vc.hi}`);
  // Symmetric: [-m, m] with m = max(|lo|, |hi|).
  const sym = varianceClipped().estimate(s, { bits: 8, symmetric: true });
  const asym = varianceClipped().estimate(s, { bits: 8 });
  assert.equal(sym.hi, Math.max(Math.abs(asym.lo), Math.abs(asym.hi)));
  assert.equal(sym.lo, -sym.hi);
});

Deno.test("variance-clipped follows ALGORITHMS.md B step by step", () => {
  const s = statsOf(gaussWithOutliers());
  const bits = 8, k = Math.max(8, Math.ceil(defaultTailFraction(bits) * s.count));
  const D = s.top.subarray(0, k), Q = s.bottom.subarray(0, k);
  const pv = (a: Float64Array) => {
    const m = a.reduce((x, y) => x + y, 0) / a.length;
    return a.reduce((x, y) => x + (y - m) ** 2, 0) / a.length;
  };
  const varX = s.m2 / s.count;
  const rD = pv(D) / (pv(D) + 1 * varX), rQ = pv(Q) / (pv(Q) + 1 * varX);
  const r = varianceClipped({ alpha: 1, beta: 1 }).estimate(s, { bits });
  assert.equal(r.hi, D[Math.floor(rD * k)]);
  assert.equal(r.lo, Q[Math.floor(rQ * k)]);
  // f is increasing in v, in [0, 1), 0 when everything is constant.
  assert.ok(outlierTendency(1, 1, 1) < outlierTendency(2, 1, 1));
  assert.equal(outlierTendency(0, 1, 0), 0);
  // Larger alpha clips less.
  const loose = varianceClipped({ alpha: 100, beta: 100 }).estimate(s, { bits: 4 });
  const tight = varianceClipped({ alpha: 0.1, beta: 0.1 }).estimate(s, { bits: 4 });
  assert.ok(loose.hi >= tight.hi && loose.lo <= tight.lo);
});

Deno.test("on uniform data without outliers variance-clipped stays within 2% of minmax", () => {
  for (const [a, b] of [[0, 1], [-1, 2], [-3, -0.5]]) {
    const x = new Float32Array(N);
    for (let i = 0; i < N; i++) x[i] = a + (b - a) * uniform();
    const s = statsOf(x);
    const mm = minMax().estimate(s);
    for (const bits of [8, 4]) {
      const vc = varianceClipped().estimate(s, { bits });
      const w = mm.hi - mm.lo;
      assert.ok(Math.abs(vc.hi - mm.hi) <= 0.02 * w, `hi ${vc.hi} vs ${mm.hi}`);
      assert.ok(Math.abs(vc.lo - mm.lo) <= 0.02 * w, `lo ${vc.lo} vs ${mm.lo}`);
      const p = percentile({ percentile: 99.9 }).estimate(s, { bits });
      assert.ok(p.hi <= mm.hi && p.hi > mm.hi - 0.01 * w);
    }
  }
});

Deno.test("percentile is exact from the tails and agrees with the histogram", () => {
  const x = gaussWithOutliers();
  const sorted = Float64Array.from(x).sort();
  const s = statsOf(x);
  const r = percentile({ percentile: 99.99 }).estimate(s);
  const j = Math.floor(1e-4 * N);
  assert.equal(r.hi, sorted[N - 1 - j]);
  assert.equal(r.lo, sorted[j]);
  // A percentile beyond the tails falls back to the histogram: close to the exact value.
  const p90 = percentile({ percentile: 90 }).estimate(s);
  const exact = sorted[N - 1 - Math.floor(0.1 * N)];
  assert.ok(Math.abs(p90.hi - exact) < 0.05, `${p90.hi} vs ${exact}`);
  // Symmetric: the |x| percentile.
  const abs = Float64Array.from(x, Math.abs).sort();
  const sym = percentile({ percentile: 99.99 }).estimate(s, { symmetric: true });
  assert.equal(sym.hi, abs[N - 1 - j]);
  assert.throws(() => percentile({ percentile: 20 }), EdgeqError);
});

Deno.test("KL threshold: compact data keep the whole range; long thin tails are cut", () => {
  const h = new Float64Array(2048);
  for (let i = 0; i < 100; i++) h[i] = 10 + i;
  assert.equal(klThreshold(h, 2048, 128), 100);
  // Exponential-like magnitudes with sparse far outliers: threshold well below the range.
  const g = new Float64Array(2048);
  for (let i = 0; i < 2048; i++) g[i] = Math.round(1e6 * Math.exp(-i / 40));
  g[2000] = 1;
  g[1500] = 2;
  const t = klThreshold(g, 2048, 128);
  assert.ok(t > 128 && t < 1000, `t=${t}`);
  assert.equal(klThreshold(new Float64Array(2048), 1, 128), 0);
});

Deno.test("ReLU-like one-sided data: entropy range starts at 0 and clips the tail", () => {
  const x = new Float32Array(N);
  for (let i = 0; i < N; i++) x[i] = Math.max(0, gauss());
  x[777] = 30;
  const s = statsOf(x);
  const r = entropy().estimate(s, { bits: 8 });
  assert.equal(r.lo, 0);
  assert.ok(r.hi > 2.5 && r.hi < 30, `hi=${r.hi}`);
  const sym = entropy().estimate(s, { bits: 8, symmetric: true });
  assert.equal(sym.lo, -sym.hi);
});

Deno.test("scaleFor makes 0.0 exactly representable", () => {
  const ranges = [
    { lo: -1, hi: 3 },
    { lo: 0.3, hi: 7 }, // widened to include 0
    { lo: -5, hi: -0.1 },
    { lo: -0.0173, hi: 12.9 },
    { lo: 0, hi: 0 },
  ];
  for (let i = 0; i < 200; i++) ranges.push({ lo: -10 * uniform(), hi: 10 * uniform() });
  for (const r of ranges) {
    for (const bits of [8, 4, 2]) {
      for (const signed of [false, true]) {
        const qp = scaleFor(r, bits, false, signed);
        assert.ok(
          Number.isInteger(qp.zeroPoint) && qp.zeroPoint >= qp.qmin && qp.zeroPoint <= qp.qmax,
        );
        assert.equal(qp.qmax - qp.qmin, 2 ** bits - 1);
        assert.equal(fakeQuantize([0], qp)[0], 0);
        assert.ok(qp.scale > 0);
      }
      const sq = scaleFor(r, bits, true);
      assert.equal(sq.zeroPoint, 0);
      assert.equal(sq.qmax, 2 ** (bits - 1) - 1);
      assert.equal(sq.qmin, -sq.qmax);
      assert.equal(fakeQuantize([0], sq)[0], 0);
    }
  }
  const q = scaleFor({ lo: -1, hi: 3 }, 8);
  assert.equal(q.scale, 4 / 255);
  assert.equal(q.zeroPoint, 64);
  assert.deepEqual(scaleFor({ lo: 0, hi: 0 }, 8), { scale: 1, zeroPoint: 0, qmin: 0, qmax: 255 });
  assert.throws(() => scaleFor({ lo: 0, hi: 1 }, 1), EdgeqError);
});

Deno.test("fakeQuantize rounds half away from zero and clamps", () => {
  const qp = { scale: 0.5, zeroPoint: 0, qmin: -3, qmax: 3 };
  assert.deepEqual([...fakeQuantize([0.25, -0.25, 0.74, 1.0, 5, -5], qp)], [
    0.5,
    -0.5,
    0.5,
    1,
    1.5,
    -1.5,
  ]);
  assert.equal(roundHalfAway(-2.5), -3);
  assert.equal(roundHalfAway(2.5), 3);
  // Dequantized values of the range's ends are within half a step of them.
  const r = { lo: -1.3, hi: 2.7 }, p = scaleFor(r, 8);
  const [lo, hi] = fakeQuantize([r.lo, r.hi], p);
  assert.ok(Math.abs(lo - r.lo) <= p.scale / 2 + 1e-6 && Math.abs(hi - r.hi) <= p.scale / 2 + 1e-6);
});

Deno.test("per-channel ranges: one per channel, on the chosen axis", () => {
  // NCHW [4, 3, 10, 10]: channel c ~ N(0, 1) * (c + 1), with an outlier in channel 2.
  const shape = [4, 3, 10, 10], x = new Float32Array(1200);
  for (let n = 0; n < 4; n++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 100; i++) x[(n * 3 + c) * 100 + i] = gauss() * (c + 1);
    }
  }
  x[2 * 100 + 5] = 100;
  const s = statsOf(x, shape, 1);
  for (const est of [minMax(), percentile(), varianceClipped()]) {
    const r = est.estimate(s, { perChannel: true, bits: 8 });
    assert.equal(r.channels!.axis, 1);
    assert.equal(r.channels!.lo.length, 3);
    assert.equal(r.channels!.hi.length, 3);
    for (let c = 0; c < 3; c++) assert.ok(r.channels!.lo[c] < 0 && r.channels!.hi[c] > 0);
  }
  const mm = minMax().estimate(s, { perChannel: true });
  assert.equal(mm.channels!.hi[2], 100);
  assert.ok(mm.channels!.hi[0] < 5);
  // [N, T, D] with the last axis as channel.
  const y = new Float32Array(2 * 5 * 4).map((_, i) => i % 4 + (i >> 2) / 100);
  const s3 = statsOf(y, [2, 5, 4], 2);
  const r3 = minMax().estimate(s3, { perChannel: true });
  assert.equal(r3.channels!.axis, 2);
  assert.deepEqual([...r3.channels!.lo], [0, 1, 2, 3]);
  assert.deepEqual([...r3.channels!.hi], [0.09, 1.09, 2.09, 3.09].map((v) => Math.fround(v)));
  assert.throws(() => entropy().estimate(s, { perChannel: true }), EdgeqError);
  assert.throws(() => minMax().estimate(statsOf(x), { perChannel: true }), EdgeqError);
});
