/**
 * Streaming statistics of one tensor over calibration batches, per tensor and per
 * channel, holding none of the activations: min/max, a growing 2048-bin histogram,
 * the k largest / k smallest values, and count/mean/M2 for the variance (Welford,
 * merged batch by batch with Chan's parallel formula in float64).
 */
import { type HistogramData, StreamingHistogram } from "./histogram.ts";
import { TailBuffer, tailSize } from "./tails.ts";

/** Count, mean and sum of squared deviations (population variance = m2 / count). */
export interface Moments {
  /** Number of values. */
  count: number;
  /** Their mean. */
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
}

/** Per-channel statistics (arrays indexed by channel). */
export interface ChannelStats {
  /** The channel axis of the tensor. */
  axis: number;
  /** Number of channels. */
  channels: number;
  /** Tail capacity per channel. */
  k: number;
  /** Values seen per channel. */
  count: Float64Array;
  /** Minimum per channel. */
  min: Float64Array;
  /** Maximum per channel. */
  max: Float64Array;
  /** Mean per channel. */
  mean: Float64Array;
  /** Sum of squared deviations per channel. */
  m2: Float64Array;
  /** The k largest values of each channel, descending. */
  top: Float64Array[];
  /** The k smallest values of each channel, ascending. */
  bottom: Float64Array[];
}

/** What the range estimators need about one tensor (a plain-data snapshot). */
export interface TensorStats {
  /** Tensor name. */
  name: string;
  /** Shape of one observed batch (the first one). */
  shape: number[];
  /** Number of values seen. */
  count: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** Mean (Welford). */
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
  /** Tail capacity (k) chosen up front from the expected sample count. */
  k: number;
  /** The k largest values, descending (top[0] = max). */
  top: Float64Array;
  /** The k smallest values, ascending (bottom[0] = min). */
  bottom: Float64Array;
  /** Histogram (2048 bins per sign by default). */
  hist: HistogramData;
  /** Per-channel statistics, when collected. */
  channel?: ChannelStats;
}

/** How a {@link TensorStatsCollector} sizes its buffers. */
export interface StatsOptions {
  /** Values expected in total for this tensor (sets the tail size k). */
  expectedCount: number;
  /** Tail size as a fraction of the count. Default 1e-3 (ALGORITHMS.md B). */
  tailFraction?: number;
  /** Smallest tail size. Default 8. */
  minTail?: number;
  /** Histogram bins per sign. Default 2048. */
  bins?: number;
  /** Channel axis, or null for no per-channel statistics. */
  channelAxis?: number | null;
}

/** Population variance of moments (0 for fewer than one value). */
export function variance(m: Moments): number {
  return m.count > 0 ? m.m2 / m.count : 0;
}

/** Moments of a plain array (two-pass, float64). */
export function moments(
  data: ArrayLike<number>,
  start = 0,
  count = data.length - start,
  stride = 1,
): Moments {
  let s = 0;
  for (let i = 0, j = start; i < count; i++, j += stride) s += data[j];
  const mean = count ? s / count : 0;
  let m2 = 0;
  for (let i = 0, j = start; i < count; i++, j += stride) {
    const d = data[j] - mean;
    m2 += d * d;
  }
  return { count, mean, m2 };
}

/** Merges moments `b` into `a` (Chan et al.'s parallel Welford update). */
export function mergeMoments(a: Moments, b: Moments): Moments {
  const n = a.count + b.count;
  if (n === 0) return { count: 0, mean: 0, m2: 0 };
  const d = b.mean - a.mean;
  return {
    count: n,
    mean: a.mean + d * b.count / n,
    m2: a.m2 + b.m2 + d * d * a.count * b.count / n,
  };
}

/**
 * Accumulates {@link TensorStats} for one tensor, batch by batch.
 *
 * @example
 * ```ts
 * const c = new TensorStatsCollector("x", { expectedCount: 4096, channelAxis: 1 });
 * c.add(new Float32Array(4096), [4, 16, 8, 8]);
 * const s = c.finish(); // s.top, s.hist, s.channel!.min ...
 * ```
 */
export class TensorStatsCollector {
  /** Tensor name. */
  readonly name: string;
  #shape: number[] | null = null;
  #m: Moments = { count: 0, mean: 0, m2: 0 };
  #min = Infinity;
  #max = -Infinity;
  #top: TailBuffer;
  #bottom: TailBuffer;
  #hist: StreamingHistogram;
  #opts: StatsOptions;
  #ch: {
    axis: number;
    c: number;
    k: number;
    m: Moments[];
    min: Float64Array;
    max: Float64Array;
    top: TailBuffer[];
    bottom: TailBuffer[];
  } | null = null;

  /** A collector for tensor `name`. */
  constructor(name: string, opts: StatsOptions) {
    this.name = name;
    this.#opts = opts;
    const k = tailSize(opts.expectedCount, opts.tailFraction, opts.minTail);
    this.#top = new TailBuffer(k, "largest");
    this.#bottom = new TailBuffer(k, "smallest");
    this.#hist = new StreamingHistogram(opts.bins ?? 2048);
  }

  /** Adds one batch of values with its shape (row-major). */
  add(data: ArrayLike<number>, shape: number[]): void {
    if (!this.#shape) {
      this.#shape = [...shape];
      const ax = this.#opts.channelAxis;
      if (ax !== undefined && ax !== null && ax >= 0 && ax < shape.length) {
        const c = shape[ax];
        const per = this.#opts.expectedCount / c;
        const k = tailSize(per, this.#opts.tailFraction, this.#opts.minTail);
        this.#ch = {
          axis: ax,
          c,
          k,
          m: Array.from({ length: c }, () => ({ count: 0, mean: 0, m2: 0 })),
          min: new Float64Array(c).fill(Infinity),
          max: new Float64Array(c).fill(-Infinity),
          top: Array.from({ length: c }, () => new TailBuffer(k, "largest")),
          bottom: Array.from({ length: c }, () => new TailBuffer(k, "smallest")),
        };
      }
    }
    let mn = Infinity, mx = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    if (mn < this.#min) this.#min = mn;
    if (mx > this.#max) this.#max = mx;
    this.#m = mergeMoments(this.#m, moments(data));
    this.#top.add(data);
    this.#bottom.add(data);
    this.#hist.add(data, mn, mx);
    const ch = this.#ch;
    if (!ch) return;
    if (shape[ch.axis] !== ch.c) {
      throw new RangeError(
        `tensor ${this.name}: channel count changed ${ch.c} -> ${shape[ch.axis]}`,
      );
    }
    let outer = 1, inner = 1;
    for (let i = 0; i < ch.axis; i++) outer *= shape[i];
    for (let i = ch.axis + 1; i < shape.length; i++) inner *= shape[i];
    for (let c = 0; c < ch.c; c++) {
      let cmn = ch.min[c], cmx = ch.max[c];
      let m = ch.m[c];
      for (let o = 0; o < outer; o++) {
        const off = (o * ch.c + c) * inner;
        for (let i = off; i < off + inner; i++) {
          const v = data[i];
          if (v < cmn) cmn = v;
          if (v > cmx) cmx = v;
        }
        if (inner > 1) {
          m = mergeMoments(m, moments(data, off, inner));
          ch.top[c].add(data, off, inner);
          ch.bottom[c].add(data, off, inner);
        }
      }
      if (inner === 1) {
        // Channel-last layout: stride over the whole batch at once.
        m = mergeMoments(m, moments(data, c, outer, ch.c));
        ch.top[c].add(data, c, outer, ch.c);
        ch.bottom[c].add(data, c, outer, ch.c);
      }
      ch.min[c] = cmn;
      ch.max[c] = cmx;
      ch.m[c] = m;
    }
  }

  /** The statistics so far. */
  finish(): TensorStats {
    const ch = this.#ch;
    return {
      name: this.name,
      shape: this.#shape ?? [],
      count: this.#m.count,
      min: this.#min,
      max: this.#max,
      mean: this.#m.mean,
      m2: this.#m.m2,
      k: this.#top.k,
      top: this.#top.values(),
      bottom: this.#bottom.values(),
      hist: this.#hist.snapshot(),
      channel: ch
        ? {
          axis: ch.axis,
          channels: ch.c,
          k: ch.k,
          count: Float64Array.from(ch.m, (m) => m.count),
          min: ch.min.slice(),
          max: ch.max.slice(),
          mean: Float64Array.from(ch.m, (m) => m.mean),
          m2: Float64Array.from(ch.m, (m) => m.m2),
          top: ch.top.map((t) => t.values()),
          bottom: ch.bottom.map((t) => t.values()),
        }
        : undefined,
    };
  }
}
