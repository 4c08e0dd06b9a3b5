/**
 * Per-layer similarity report: how well each range estimator preserves each
 * observed layer output when that tensor alone is fake-quantized, measured by the
 * Pearson correlation of ALGORITHMS.md C step 2 between the float values and the
 * fake-quantized ones over held-out samples; plus the whole-model variant (every
 * observed activation fake-quantized in one forward pass), scored by top-1
 * agreement with the float model and top-1 accuracy.
 */
import type { Graph } from "../../runtime/graph.ts";
import { execute } from "../../runtime/executor.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import {
  BoundGraphs,
  type CalibStats,
  type CollectOptions,
  collectStats,
  forEachBatch,
  inputName,
} from "./collect.ts";
import {
  defaultEstimators,
  type QuantParams,
  type Range,
  type RangeEstimator,
  scaleFor,
} from "./estimators.ts";
import { executeFakeQuant } from "./fakequant.ts";
import type { SampleSet } from "./source.ts";

/**
 * Streaming Pearson correlation. Sums are taken in float64 around shifts (the
 * first batch's means; for the fused fake-quant path, x's mean for both), so long
 * streams with a large mean do not cancel; one pass, and `addFakeQuant` fuses the
 * quantization.
 *
 * @example
 * ```ts
 * const p = new PearsonAccumulator();
 * p.add(x, y);
 * p.value(); // sum (x-mx)(y-my) / sqrt(sum (x-mx)^2 sum (y-my)^2)
 * ```
 */
export class PearsonAccumulator {
  #kx = NaN;
  #ky = NaN;
  #n = 0;
  #sx = 0;
  #sy = 0;
  #sxx = 0;
  #syy = 0;
  #sxy = 0;

  static #mean(x: ArrayLike<number>): number {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i];
    return x.length ? s / x.length : 0;
  }

  /** Adds paired values. */
  add(x: ArrayLike<number>, y: ArrayLike<number>): void {
    if (Number.isNaN(this.#kx)) {
      this.#kx = PearsonAccumulator.#mean(x);
      this.#ky = PearsonAccumulator.#mean(y);
    }
    const kx = this.#kx, ky = this.#ky;
    let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (let i = 0; i < x.length; i++) {
      const a = x[i] - kx, b = y[i] - ky;
      sx += a;
      sy += b;
      sxx += a * a;
      syy += b * b;
      sxy += a * b;
    }
    this.#acc(x.length, sx, sy, sxx, syy, sxy);
  }

  /** Adds x paired with its fake-quantized value (see `fakeQuantize`), without a buffer. */
  addFakeQuant(x: ArrayLike<number>, qp: QuantParams): void {
    if (Number.isNaN(this.#kx)) this.#kx = this.#ky = PearsonAccumulator.#mean(x);
    const kx = this.#kx, ky = this.#ky;
    const { scale, zeroPoint: zp, qmin, qmax } = qp, inv = 1 / scale;
    let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (let i = 0; i < x.length; i++) {
      const xv = x[i], v = xv * inv;
      let q = (v < 0 ? -Math.round(-v) : Math.round(v)) + zp;
      if (q < qmin) q = qmin;
      else if (q > qmax) q = qmax;
      const a = xv - kx, b = Math.fround((q - zp) * scale) - ky;
      sx += a;
      sy += b;
      sxx += a * a;
      syy += b * b;
      sxy += a * b;
    }
    this.#acc(x.length, sx, sy, sxx, syy, sxy);
  }

  #acc(n: number, sx: number, sy: number, sxx: number, syy: number, sxy: number): void {
    this.#n += n;
    this.#sx += sx;
    this.#sy += sy;
    this.#sxx += sxx;
    this.#syy += syy;
    this.#sxy += sxy;
  }

  /** The correlation; 1 when both sides are constant, 0 when only one is. */
  value(): number {
    const n = this.#n;
    if (n === 0) return 1;
    const cxx = Math.max(0, this.#sxx - this.#sx * this.#sx / n);
    const cyy = Math.max(0, this.#syy - this.#sy * this.#sy / n);
    const cxy = this.#sxy - this.#sx * this.#sy / n;
    const d = Math.sqrt(cxx * cyy);
    if (d > 0) return cxy / d;
    return cxx === 0 && cyy === 0 ? 1 : 0;
  }
}

/**
 * Pearson correlation of two arrays (ALGORITHMS.md C step 2).
 *
 * @example
 * ```ts
 * pearson([1, 2, 3], [2, 4, 7]); // ~0.99
 * ```
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const p = new PearsonAccumulator();
  p.add(x, y);
  return p.value();
}

/** Options of the report functions. */
export interface ReportOptions {
  /** Estimators to compare. Default {@link defaultEstimators}. */
  estimators?: RangeEstimator[];
  /** Bit-widths; the first is the main one (best marked). Default [8, 4]. */
  bits?: number[];
  /** Symmetric activation ranges. Default false (asymmetric, unsigned). */
  symmetric?: boolean;
  /** Batch size of the forward passes. Default 32. */
  batchSize?: number;
}

/** One row of the per-layer report. */
export interface LayerSimilarity {
  /** Observed tensor. */
  tensor: string;
  /** Producing op ("input" for a graph input). */
  op: string;
  /** ranges[b][e]: clip range of estimator e at bit-width bits[b]. */
  ranges: Range[][];
  /** pearson[b][e]: similarity of float vs fake-quantized output. */
  pearson: number[][];
  /** Index of the best estimator at bits[0]. */
  best: number;
}

/** The per-layer similarity report. */
export interface SimilarityReport {
  /** Estimator names, in column order. */
  estimators: string[];
  /** Bit-widths, in column order. */
  bits: number[];
  /** One row per observed tensor, in graph order. */
  layers: LayerSimilarity[];
  /** mean[b][e]: mean over layers of pearson[b][e]. */
  mean: number[][];
  /** Held-out samples the similarities were measured on. */
  samples: number;
}

/** Quantization parameters of every (bits, estimator, tensor). */
function paramsOf(
  calib: CalibStats,
  ests: RangeEstimator[],
  bits: number[],
  symmetric: boolean,
): { ranges: Map<string, Range[][]>; params: Map<string, QuantParams[][]> } {
  const ranges = new Map<string, Range[][]>(), params = new Map<string, QuantParams[][]>();
  for (const t of calib.tensors) {
    const s = calib.stats.get(t.name)!;
    const r = bits.map((b) =>
      ests.map((e) => {
        const { lo, hi } = e.estimate(s, { bits: b, symmetric });
        return { lo, hi };
      })
    );
    ranges.set(t.name, r);
    params.set(t.name, r.map((row, bi) => row.map((x) => scaleFor(x, bits[bi], symmetric))));
  }
  return { ranges, params };
}

/**
 * Per-layer similarity: for each observed tensor, each estimator and bit-width,
 * fake-quantizes that tensor alone (ranges from `calib`) on the held-out samples
 * and accumulates the Pearson correlation with the float values.
 *
 * @example
 * ```ts
 * const calib = collectStats(graph, calibSet);
 * const rep = layerSimilarity(graph, calib, heldOut);
 * console.log(renderSimilarity(rep));
 * ```
 */
export function layerSimilarity(
  graph: Graph | BoundGraphs,
  calib: CalibStats,
  heldOut: SampleSet,
  opts: ReportOptions = {},
): SimilarityReport {
  const graphs = graph instanceof BoundGraphs ? graph : new BoundGraphs(graph);
  const ests = opts.estimators ?? defaultEstimators();
  const bits = opts.bits ?? [8, 4];
  const { ranges, params } = paramsOf(calib, ests, bits, opts.symmetric ?? false);
  const acc = new Map<string, PearsonAccumulator[][]>();
  for (const t of calib.tensors) {
    acc.set(t.name, bits.map(() => ests.map(() => new PearsonAccumulator())));
  }
  const visit = (name: string, t: Tensor) => {
    const a = acc.get(name);
    if (!a || t.dtype !== "float32") return;
    const p = params.get(name)!;
    for (let b = 0; b < bits.length; b++) {
      for (let e = 0; e < ests.length; e++) a[b][e].addFakeQuant(t.data, p[b][e]);
    }
  };
  const bs = Math.max(1, Math.min(opts.batchSize ?? 32, heldOut.n));
  forEachBatch(heldOut, bs, (x) => {
    const g = graphs.get(x.shape[0]);
    const inName = inputName(g);
    visit(inName, x);
    execute(g, { [inName]: x }, {
      observe: (node, outs) => node.outputs.forEach((o, k) => o && outs[k] && visit(o, outs[k])),
    });
  });
  const layers: LayerSimilarity[] = calib.tensors.map((t) => {
    const pr = acc.get(t.name)!.map((row) => row.map((p) => p.value()));
    let best = 0;
    pr[0].forEach((v, e) => (v > pr[0][best] ? best = e : 0));
    return { tensor: t.name, op: t.op, ranges: ranges.get(t.name)!, pearson: pr, best };
  });
  const mean = bits.map((_, b) =>
    ests.map((_, e) => layers.reduce((s, l) => s + l.pearson[b][e], 0) / Math.max(1, layers.length))
  );
  return { estimators: ests.map((e) => e.name), bits, layers, mean, samples: heldOut.n };
}

/** One row of the whole-model fake-quant comparison. */
export interface ModelAgreementRow {
  /** Estimator name. */
  estimator: string;
  /** Activation bit-width. */
  bits: number;
  /** Fraction of samples whose top-1 class equals the float model's. */
  agreement: number;
  /** Top-1 accuracy, when the samples are labelled. */
  accuracy?: number;
}

/** Whole-model fake-quant comparison. */
export interface ModelAgreement {
  /** Samples evaluated. */
  samples: number;
  /** Float model's top-1 accuracy, when labelled. */
  floatAccuracy?: number;
  /** One row per (bit-width, estimator). */
  rows: ModelAgreementRow[];
}

function argmaxRows(t: Tensor): number[] {
  const n = t.shape[0], c = t.data.length / n, out: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (t.data[i * c + j] > t.data[i * c + best]) best = j;
    out.push(best);
  }
  return out;
}

/**
 * Whole-model variant: fake-quantizes every observed activation at once (each
 * estimator, each bit-width) and compares the top-1 class of the first graph
 * output with the float model's and with the labels.
 *
 * @example
 * ```ts
 * const agr = modelAgreement(graph, calib, evalSet, { bits: [8] });
 * console.log(renderAgreement(agr));
 * ```
 */
export function modelAgreement(
  graph: Graph | BoundGraphs,
  calib: CalibStats,
  evalSet: SampleSet,
  opts: ReportOptions = {},
): ModelAgreement {
  const graphs = graph instanceof BoundGraphs ? graph : new BoundGraphs(graph);
  const ests = opts.estimators ?? defaultEstimators();
  const bits = opts.bits ?? [8];
  const { params } = paramsOf(calib, ests, bits, opts.symmetric ?? false);
  const qmaps = bits.map((_, b) =>
    ests.map((_, e) => new Map(calib.tensors.map((t) => [t.name, params.get(t.name)![b][e]])))
  );
  const agree = bits.map(() => ests.map(() => 0)), correct = bits.map(() => ests.map(() => 0));
  let floatCorrect = 0;
  const labels = evalSet.labels;
  const bs = Math.max(1, Math.min(opts.batchSize ?? 32, evalSet.n));
  forEachBatch(evalSet, bs, (x, start) => {
    const g = graphs.get(x.shape[0]);
    const feeds = { [inputName(g)]: x };
    const out = g.outputs[0].name;
    const ref = argmaxRows(execute(g, feeds)[out]);
    if (labels) ref.forEach((c, i) => (floatCorrect += c === labels[start + i] ? 1 : 0));
    for (let b = 0; b < bits.length; b++) {
      for (let e = 0; e < ests.length; e++) {
        const got = argmaxRows(executeFakeQuant(g, feeds, qmaps[b][e])[out]);
        got.forEach((c, i) => {
          if (c === ref[i]) agree[b][e]++;
          if (labels && c === labels[start + i]) correct[b][e]++;
        });
      }
    }
  });
  const n = Math.max(1, evalSet.n);
  const rows: ModelAgreementRow[] = [];
  bits.forEach((bt, b) =>
    ests.forEach((est, e) =>
      rows.push({
        estimator: est.name,
        bits: bt,
        agreement: agree[b][e] / n,
        accuracy: labels ? correct[b][e] / n : undefined,
      })
    )
  );
  return { samples: evalSet.n, floatAccuracy: labels ? floatCorrect / n : undefined, rows };
}

/** Options of {@link calibrationReport}. */
export interface CalibrationReportOptions extends ReportOptions, CollectOptions {
  /** Fraction of the calibration samples held out for the similarity measure. Default 0.25. */
  holdout?: number;
}

/**
 * Collects statistics on the first part of `samples` and measures per-layer
 * similarity on the held-out rest.
 *
 * @example
 * ```ts
 * const { calib, report } = calibrationReport(graph, await loadSamples(dir, { limit: 512 }));
 * ```
 */
export function calibrationReport(
  graph: Graph | BoundGraphs,
  samples: SampleSet,
  opts: CalibrationReportOptions = {},
): { calib: CalibStats; report: SimilarityReport; graphs: BoundGraphs } {
  const graphs = graph instanceof BoundGraphs ? graph : new BoundGraphs(graph);
  const nHold = Math.max(1, Math.round(samples.n * (opts.holdout ?? 0.25)));
  const nCal = samples.n - nHold;
  const part = (off: number, n: number): SampleSet => ({
    n,
    sampleShape: samples.sampleShape,
    labels: samples.labels?.subarray(off, off + n),
    batch: (s, c) => samples.batch(off + s, c),
  });
  const calib = collectStats(graphs, part(0, nCal), opts);
  const report = layerSimilarity(graphs, calib, part(nCal, nHold), opts);
  return { calib, report, graphs };
}

function shorten(s: string, w: number): string {
  return s.length <= w ? s : "…" + s.slice(s.length - w + 1);
}

function fmtNum(x: number): string {
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? x.toExponential(2) : x.toFixed(3);
}

function table(head: string[], rows: string[][], left = 1): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i < left ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
  return [line(head), w.map((x) => "-".repeat(x)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * Renders the per-layer report as a text table: layer, op, each estimator's clip
 * range at bits[0], Pearson per estimator and bit-width (best at bits[0] marked
 * `*`), and the mean over layers.
 *
 * @example
 * ```ts
 * console.log(renderSimilarity(report));
 * ```
 */
export function renderSimilarity(r: SimilarityReport): string {
  const head = ["layer", "op"];
  r.estimators.forEach((e) => head.push(`${e} range`));
  r.bits.forEach((b) => r.estimators.forEach((e) => head.push(`ρ${b} ${e}`)));
  const rows = r.layers.map((l) => {
    const row = [shorten(l.tensor, 40), l.op];
    l.ranges[0].forEach((x) => row.push(`[${fmtNum(x.lo)}, ${fmtNum(x.hi)}]`));
    l.pearson.forEach((pb, b) =>
      pb.forEach((v, e) => row.push(v.toFixed(6) + (b === 0 && e === l.best ? "*" : " ")))
    );
    return row;
  });
  const meanRow = [`mean over ${r.layers.length} layers`, ""];
  r.estimators.forEach(() => meanRow.push(""));
  r.mean.forEach((mb, b) => {
    let best = 0;
    mb.forEach((v, e) => (v > mb[best] ? best = e : 0));
    mb.forEach((v, e) => meanRow.push(v.toFixed(6) + (e === best ? "*" : " ")));
    void b;
  });
  rows.push(meanRow);
  return table(head, rows, 2) + `\n(${r.samples} held-out samples; * = best at ${r.bits[0]} bits)`;
}

/**
 * Renders the whole-model comparison as a text table.
 *
 * @example
 * ```ts
 * console.log(renderAgreement(modelAgreement(graph, calib, evalSet)));
 * ```
 */
export function renderAgreement(a: ModelAgreement): string {
  const head = ["estimator", "bits", "top-1 agreement", "top-1 accuracy"];
  const pct = (x?: number) => (x === undefined ? "-" : (100 * x).toFixed(2) + "%");
  const rows = [["float", "32", "100.00%", pct(a.floatAccuracy)]];
  for (const r of a.rows) {
    rows.push([r.estimator, String(r.bits), pct(r.agreement), pct(r.accuracy)]);
  }
  return table(head, rows) + `\n(${a.samples} samples)`;
}
