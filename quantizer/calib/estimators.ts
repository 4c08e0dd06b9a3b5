/**
 * Range estimators: from a tensor's calibration statistics to a clip range
 * [lo, hi], per tensor or per channel, and from a range to a scale / zero point.
 *
 * - `minmax`: the observed min and max.
 * - `percentile` (default 99.99): hi = the p-th percentile, lo = the (100-p)-th
 *   (symmetric: the p-th percentile of |x|, as ORT does). Exact from the tail
 *   buffers when the clipped tail fits in them (1e-3 of the count by default, so
 *   any p >= 99.9), else read off the histogram with linear interpolation in the bin.
 * - `entropy`: KL-divergence calibration (TensorRT's, as ORT's
 *   `get_entropy_threshold` implements it): on a 2048-bin |x| histogram try every
 *   threshold bin i in [nq, 2048), fold the outliers into the last kept bin (P),
 *   merge the i bins into nq = 2^(bits-1) levels (128 for 8 bits) and spread each
 *   level back over its non-empty bins (Q), smooth both (eps 1e-4) and keep the i
 *   with the smallest KL(P||Q); threshold = upper edge of bin i-1. Symmetric:
 *   [-T, T] from the folded |x| histogram. Asymmetric: each sign side searched on
 *   its own histogram (a one-sided ReLU output gets a full 2048-bin search instead
 *   of ORT's symmetric window, half of which would be empty), then clamped to
 *   [min, max]. Per tensor only (no per-channel histograms are collected).
 * - `variance-clipped` (ALGORITHMS.md B), see {@link varianceClipped}.
 */
import { EdgeqError } from "../../runtime/errors.ts";
import { foldAbs, type HistogramData, histQuantile } from "./histogram.ts";
import type { TensorStats } from "./stats.ts";
import { tailSize } from "./tails.ts";

/** Options every estimator takes. */
export interface EstimateOptions {
  /** Target bit-width. Default 8. */
  bits?: number;
  /** Symmetric range around 0 (lo = -hi). Default false. */
  symmetric?: boolean;
  /** Also estimate one range per channel (needs per-channel statistics). Default false. */
  perChannel?: boolean;
}

/** A clip range. */
export interface Range {
  /** Lower end. */
  lo: number;
  /** Upper end. */
  hi: number;
}

/** Per-channel clip ranges. */
export interface ChannelRanges {
  /** Channel axis of the tensor. */
  axis: number;
  /** Lower end per channel. */
  lo: Float64Array;
  /** Upper end per channel. */
  hi: Float64Array;
}

/** An estimate: the per-tensor range, plus per-channel ranges when asked for. */
export interface RangeEstimate extends Range {
  /** Per-channel ranges, when `perChannel` was asked for. */
  channels?: ChannelRanges;
}

/** The common interface of the range estimators. */
export interface RangeEstimator {
  /** Short name (used in reports). */
  readonly name: string;
  /** The clip range for a tensor's statistics. */
  estimate(stats: TensorStats, opts?: EstimateOptions): RangeEstimate;
}

/** One set of tail/variance data, per tensor or for one channel. */
interface TailView {
  count: number;
  min: number;
  max: number;
  m2: number;
  top: Float64Array;
  bottom: Float64Array;
}

function tensorView(s: TensorStats): TailView {
  return { count: s.count, min: s.min, max: s.max, m2: s.m2, top: s.top, bottom: s.bottom };
}

function channelViews(s: TensorStats, who: string): { axis: number; views: TailView[] } {
  const c = s.channel;
  if (!c) {
    throw new EdgeqError(
      "E_USAGE",
      `${who}: per-channel range asked for but no per-channel statistics were collected`,
      { tensor: s.name },
    );
  }
  return {
    axis: c.axis,
    views: Array.from({ length: c.channels }, (_, i) => ({
      count: c.count[i],
      min: c.min[i],
      max: c.max[i],
      m2: c.m2[i],
      top: c.top[i],
      bottom: c.bottom[i],
    })),
  };
}

function symmetrise(r: Range): Range {
  const a = Math.max(Math.abs(r.lo), Math.abs(r.hi));
  return { lo: -a, hi: a };
}

/** Builds an estimate from a per-view function (tensor, then channels when asked). */
function perView(
  name: string,
  stats: TensorStats,
  opts: EstimateOptions,
  fn: (v: TailView, hist: HistogramData | null) => Range,
): RangeEstimate {
  const sym = opts.symmetric ?? false;
  const fix = (r: Range) => (sym ? symmetrise(r) : r);
  const out: RangeEstimate = fix(fn(tensorView(stats), stats.hist));
  if (opts.perChannel) {
    const { axis, views } = channelViews(stats, name);
    const lo = new Float64Array(views.length), hi = new Float64Array(views.length);
    views.forEach((v, i) => {
      const r = fix(fn(v, null));
      lo[i] = r.lo;
      hi[i] = r.hi;
    });
    out.channels = { axis, lo, hi };
  }
  return out;
}

/**
 * Min/max estimator.
 *
 * @example
 * ```ts
 * minMax().estimate(stats, { bits: 8 }); // { lo: stats.min, hi: stats.max }
 * ```
 */
export function minMax(): RangeEstimator {
  return {
    name: "minmax",
    estimate: (stats, opts = {}) =>
      perView("minmax", stats, opts, (v) => ({ lo: v.min, hi: v.max })),
  };
}

/** Options of {@link percentile}. */
export interface PercentileOptions {
  /** Percentile kept, in (50, 100]. Default 99.99. */
  percentile?: number;
}

/** The value at 0-based rank `r` from the top of a tail (top: descending). */
function fromTail(tail: Float64Array, r: number): number | undefined {
  return r < tail.length ? tail[Math.max(0, r)] : undefined;
}

/**
 * Percentile estimator (see module doc).
 *
 * @example
 * ```ts
 * percentile({ percentile: 99.9 }).estimate(stats);
 * ```
 */
export function percentile(popts: PercentileOptions = {}): RangeEstimator {
  const p = popts.percentile ?? 99.99;
  if (!(p > 50 && p <= 100)) {
    throw new EdgeqError("E_USAGE", `percentile must be in (50, 100], got ${p}`);
  }
  const q = 1 - p / 100, name = `p${p}`;
  return {
    name,
    estimate(stats, opts = {}) {
      if (opts.symmetric) {
        // |x| percentile: the largest |x| are among the top and bottom tails.
        const abs = (v: TailView) => {
          const t = new Float64Array(v.top.length + v.bottom.length);
          t.set(v.top.map(Math.abs));
          t.set(v.bottom.map(Math.abs), v.top.length);
          t.sort().reverse();
          return t.subarray(0, Math.max(v.top.length, v.bottom.length));
        };
        const one = (v: TailView, h: HistogramData | null): Range => {
          const r = Math.floor(q * v.count);
          let a = fromTail(abs(v), r);
          if (a === undefined) {
            if (h) {
              const f = foldAbs(h);
              a = histQuantile({
                ...h,
                pos: f.counts,
                neg: new Float64Array(h.bins),
                posRange: f.range,
              }, 1 - q);
            } else a = abs(v).at(-1) ?? 0;
          }
          return { lo: -a, hi: a };
        };
        return perView(name, stats, { ...opts, symmetric: false }, one);
      }
      return perView(name, stats, opts, (v, h) => {
        const r = Math.floor(q * v.count);
        const hi = fromTail(v.top, r) ?? (h ? histQuantile(h, 1 - q) : v.top.at(-1) ?? v.max);
        const lo = fromTail(v.bottom, r) ?? (h ? histQuantile(h, q) : v.bottom.at(-1) ?? v.min);
        return { lo: Math.max(lo, v.min), hi: Math.min(hi, v.max) };
      });
    },
  };
}

/** Options of {@link entropy}. */
export interface EntropyOptions {
  /** Quantized bins; default 2^(bits-1) (128 for 8 bits, as TensorRT and ORT). */
  quantizedBins?: number;
}

/**
 * The KL-optimal threshold of a magnitude histogram (counts over [0, range)),
 * TensorRT's algorithm as ORT writes it: for every i in [nq, bins], P = the first
 * i bins with the outliers added to bin i-1, Q = those bins merged into nq levels
 * (the last level takes the remainder) and spread evenly over the bins non-empty
 * in P; both smoothed as ORT's `smooth_distribution` (eps 1e-4 onto empty bins,
 * taken evenly from the others); KL(P||Q) after normalising; threshold = i bin
 * widths for the best i. Bin 0 is first set to bin 1's count (NVIDIA
 * pytorch-quantization's `bins[0] = bins[1]`): the exact zeros of a post-ReLU
 * tensor would otherwise dominate the divergence and pull the threshold to a
 * fraction of the range. Candidates clipping more than half of the values are
 * skipped (see the guard in the code). One fused pass per candidate, no allocation.
 *
 * @example
 * ```ts
 * klThreshold(counts, range, 128);
 * ```
 */
export function klThreshold(hist: Float64Array, range: number, nq: number, eps = 1e-4): number {
  const nb = hist.length;
  const counts = hist.slice();
  if (nb > 1) counts[0] = counts[1];
  let total = 0, lastNz = -1;
  for (let i = 0; i < nb; i++) {
    total += counts[i];
    if (counts[i] > 0) lastNz = i;
  }
  if (total === 0 || range === 0) return 0;
  const width = range / nb;
  // Data within the first nq bins: every level has at most one bin, keep them all.
  if (lastNz + 1 <= nq) return (lastNz + 1) * width;
  const suffix = new Float64Array(nb + 1);
  for (let i = nb - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + counts[i];
  const lvSum = new Float64Array(nq), lvNz = new Float64Array(nq);
  let best = Infinity, bestI = nb;
  for (let i = nq; i <= nb; i++) {
    // Guard (not in TensorRT/ORT): skip thresholds clipping more than half of the
    // values. With Q normalised by its own sum, folding nearly everything into
    // the last kept bin gives KL ~ 0, so data far from 0 (e.g. 1 + erf(x) in GELU,
    // in [0.04, 2]) would otherwise get a threshold just above their minimum.
    if (suffix[i] > 0.5 * total) continue;
    const merged = Math.floor(i / nq);
    const pAt = (j: number) => (j === i - 1 ? counts[j] + suffix[i] : counts[j]);
    // Level sums (without the folded outliers) and the non-empty bins of P per level.
    let zp = 0, zq = 0;
    for (let b = 0; b < nq; b++) {
      const s = b * merged, e = b === nq - 1 ? i : s + merged;
      let sum = 0, nz = 0;
      for (let j = s; j < e; j++) {
        sum += counts[j];
        if (pAt(j) !== 0) nz++;
      }
      lvSum[b] = sum;
      lvNz[b] = nz;
      zp += e - s - nz;
      zq += sum === 0 ? e - s : e - s - nz;
    }
    if (zp === i || zq === i) continue;
    const e1p = eps * zp / (i - zp), e1q = eps * zq / (i - zq);
    const sp = total, sq = total - suffix[i]; // smoothing keeps the sums
    if (sq <= 0) continue;
    let d = 0;
    for (let b = 0; b < nq; b++) {
      const s = b * merged, e = b === nq - 1 ? i : s + merged;
      const qv = lvNz[b] ? lvSum[b] / lvNz[b] : 0;
      for (let j = s; j < e; j++) {
        const pj = pAt(j);
        const qj = pj !== 0 ? qv : 0;
        const ps = (pj === 0 ? eps : pj - e1p) / sp;
        const qs = (qj === 0 ? eps : qj - e1q) / sq;
        if (ps > 0) d += ps * Math.log(ps / qs);
      }
    }
    if (d < best) {
      best = d;
      bestI = i;
    }
  }
  return bestI * width;
}

/**
 * Entropy (KL-divergence) estimator (see module doc).
 *
 * @example
 * ```ts
 * entropy().estimate(stats, { bits: 8, symmetric: true });
 * ```
 */
export function entropy(eopts: EntropyOptions = {}): RangeEstimator {
  return {
    name: "entropy",
    estimate(stats, opts = {}) {
      if (opts.perChannel) {
        throw new EdgeqError("E_USAGE", "entropy: per-channel ranges need per-channel histograms", {
          tensor: stats.name,
        });
      }
      const bits = opts.bits ?? 8;
      const h = stats.hist;
      if (opts.symmetric) {
        const f = foldAbs(h);
        const t = klThreshold(f.counts, f.range, eopts.quantizedBins ?? 2 ** (bits - 1));
        return { lo: -t, hi: t };
      }
      // One-sided data get all 2^bits levels on their side (pytorch-quantization's
      // unsigned rule); two-sided data 2^(bits-1) per side.
      const oneSided = stats.min >= 0 || stats.max <= 0;
      const nq = eopts.quantizedBins ?? 2 ** (oneSided ? bits : bits - 1);
      const tPos = stats.max > 0 ? klThreshold(h.pos, h.posRange, nq) : 0;
      const tNeg = stats.min < 0 ? klThreshold(h.neg, h.negRange, nq) : 0;
      let lo = Math.max(-tNeg, stats.min), hi = Math.min(tPos, stats.max);
      if (stats.max < 0) hi = stats.max; // no positive side
      if (stats.min >= 0) lo = stats.min; // no negative side
      if (lo > hi) [lo, hi] = [hi, lo];
      return { lo, hi };
    },
  };
}

/** Options of {@link varianceClipped}. */
export interface VarianceClippedOptions {
  /** Control parameter of the upper tail (larger = clip less). Default 1. */
  alpha?: number;
  /** Control parameter of the lower tail. Default 1. */
  beta?: number;
  /**
   * Tail size k1 = k2 as a fraction of the value count. Default
   * {@link defaultTailFraction}(bits): 1e-3 at 4 bits, 1e-5 at 8 bits.
   */
  tailFraction?: number;
  /** Smallest tail size. Default 8. */
  minTail?: number;
  /** Report name. Default "varclip". */
  name?: string;
}

/**
 * Default tail fraction of the variance-clipped estimator for a bit-width:
 * 10^-(1 + bits/2), i.e. 1e-3 at 4 bits, 1e-4 at 6, 1e-5 at 8. The tail size k
 * bounds how deep the clip can go (at most the k-th largest value), and the
 * clipped tail mass that minimises quantization MSE shrinks by about 0.3x per extra
 * bit (ACIQ, Banner et al. 2019: 3.3e-3 of a Laplace distribution at 4 bits,
 * 2.5e-5 at 8), which is what this follows (0.316x per bit).
 *
 * @example
 * ```ts
 * defaultTailFraction(8); // 1e-5
 * ```
 */
export function defaultTailFraction(bits: number): number {
  return 10 ** -(1 + bits / 2);
}

/** f(v, a) = v / (v + a * varX) (ALGORITHMS.md B), 0 when undefined. */
export function outlierTendency(v: number, a: number, varX: number): number {
  const d = v + a * varX;
  return d > 0 && Number.isFinite(d) ? v / d : 0;
}

function popVariance(x: Float64Array, n: number): number {
  if (n === 0) return 0;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  const m = s / n;
  let m2 = 0;
  for (let i = 0; i < n; i++) m2 += (x[i] - m) ** 2;
  return m2 / n;
}

/**
 * Variance-clipped estimator, ALGORITHMS.md B exactly:
 * k1 = k2 = max(minTail, ceil(tailFraction * N)) (capped by the collected tail),
 * D = the k1 largest values (descending), Q = the k2 smallest (ascending),
 * rD = f(var(D), alpha), rQ = f(var(Q), beta) with f(v, a) = v / (v + a var(X)),
 * ID = floor(rD k1), IQ = floor(rQ k2), range = [Q[IQ], D[ID]]; symmetric:
 * [-m, m] with m = max(|D[ID]|, |Q[IQ]|).
 *
 * Defaults alpha = beta = 1: a tail whose spread equals the whole distribution's
 * (e.g. an exponential tail, the usual post-ReLU shape) is clipped half-way into
 * the tail, i.e. at about the 1 - 0.5e-3 quantile; a thin Gaussian tail
 * (var(D) ~ 0.05 var(X)) only ~5% of the way in; a tail holding isolated
 * outliers far out (var(D) >> var(X)) nearly to the k-th value, dropping them.
 * With tailFraction 1e-3 the clip never goes deeper than the 99.9th percentile.
 *
 * @example
 * ```ts
 * varianceClipped({ alpha: 1, beta: 1 }).estimate(stats, { bits: 8 });
 * ```
 */
export function varianceClipped(vopts: VarianceClippedOptions = {}): RangeEstimator {
  const alpha = vopts.alpha ?? 1, beta = vopts.beta ?? 1;
  const floor = vopts.minTail ?? 8;
  const name = vopts.name ?? "varclip";
  return {
    name,
    estimate(stats, opts = {}) {
      return perView(name, stats, opts, (v) => {
        if (v.count === 0) return { lo: 0, hi: 0 };
        const frac = vopts.tailFraction ?? defaultTailFraction(opts.bits ?? 8);
        const varX = v.m2 / v.count;
        const k1 = Math.min(v.top.length, tailSize(v.count, frac, floor));
        const k2 = Math.min(v.bottom.length, tailSize(v.count, frac, floor));
        const rD = outlierTendency(popVariance(v.top, k1), alpha, varX);
        const rQ = outlierTendency(popVariance(v.bottom, k2), beta, varX);
        const iD = Math.min(k1 - 1, Math.floor(rD * k1));
        const iQ = Math.min(k2 - 1, Math.floor(rQ * k2));
        return { lo: v.bottom[iQ], hi: v.top[iD] };
      });
    },
  };
}

/** The four estimators with their defaults, in report order. */
export function defaultEstimators(): RangeEstimator[] {
  return [minMax(), percentile(), entropy(), varianceClipped()];
}

/** Quantization parameters: r = scale * (q - zeroPoint), q in [qmin, qmax]. */
export interface QuantParams {
  /** Step between levels. */
  scale: number;
  /** Integer that decodes to 0.0. */
  zeroPoint: number;
  /** Smallest integer level. */
  qmin: number;
  /** Largest integer level. */
  qmax: number;
}

/**
 * Scale and zero point for a range. Asymmetric: the range is first widened to
 * include 0, scale = (hi - lo) / (2^bits - 1), zp = round(qmin - lo / scale)
 * clamped to [qmin, qmax] with q unsigned [0, 2^bits - 1] (or signed
 * [-2^(bits-1), 2^(bits-1) - 1] with `signed`); q = zp decodes to exactly 0.0.
 * Symmetric: scale = max(|lo|, |hi|) / (2^(bits-1) - 1), zp = 0, narrow signed
 * range [-(2^(bits-1) - 1), 2^(bits-1) - 1] (ALGORITHMS.md B step 5).
 * A degenerate range (all zeros) gets scale 1.
 *
 * @example
 * ```ts
 * scaleFor({ lo: -1, hi: 3 }, 8, false); // { scale: 4/255, zeroPoint: 64, qmin: 0, qmax: 255 }
 * ```
 */
export function scaleFor(range: Range, bits = 8, symmetric = false, signed = false): QuantParams {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16) {
    throw new EdgeqError("E_USAGE", `bits must be an integer in [2, 16], got ${bits}`);
  }
  if (symmetric) {
    const qmax = 2 ** (bits - 1) - 1;
    const a = Math.max(Math.abs(range.lo), Math.abs(range.hi));
    const scale = a > 0 && Number.isFinite(a) ? a / qmax : 1;
    return { scale, zeroPoint: 0, qmin: -qmax, qmax };
  }
  const qmin = signed ? -(2 ** (bits - 1)) : 0;
  const qmax = qmin + 2 ** bits - 1;
  const lo = Math.min(range.lo, 0), hi = Math.max(range.hi, 0);
  const scale = hi > lo && Number.isFinite(hi - lo) ? (hi - lo) / (qmax - qmin) : 1;
  const zp = Math.min(qmax, Math.max(qmin, Math.round(qmin - lo / scale)));
  return { scale, zeroPoint: zp, qmin, qmax };
}
