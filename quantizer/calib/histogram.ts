/**
 * A streaming histogram with a fixed number of bins whose range grows as data
 * arrive, the way ORT's and TensorRT's calibrators keep one.
 *
 * Layout: two magnitude histograms of `bins` bins each, one for values >= 0 over
 * [0, rPos) and one for values < 0 over [0, rNeg) (of |x|). Both ranges are the first
 * non-zero batch's max |x| (times 1 + 1/bins) times a power of two. When a value exceeds a side's range, the
 * range doubles (as often as needed) and every pair of old bins merges into one new
 * bin, which re-bins the old counts *exactly* (no interpolation). Keeping the sides
 * apart gives full resolution to one-sided tensors (post-ReLU) and makes the |x|
 * histogram that TensorRT's entropy calibration works on an exact fold.
 */

/** A histogram snapshot (plain data). */
export interface HistogramData {
  /** Bins per side. */
  bins: number;
  /** Counts of x >= 0: bin i holds x in [i, i+1) * pos.range / bins. */
  pos: Float64Array;
  /** Counts of x < 0 by |x|: bin i holds |x| in [i, i+1) * neg.range / bins. */
  neg: Float64Array;
  /** Range (upper edge) of the positive side. 0 while only zeros were seen. */
  posRange: number;
  /** Range (upper edge, of |x|) of the negative side. */
  negRange: number;
}

/**
 * Streaming histogram (see module doc).
 *
 * @example
 * ```ts
 * const h = new StreamingHistogram(2048);
 * h.add(new Float32Array([0.5, -1, 2]));
 * h.add(new Float32Array([40]));     // range grows, old counts re-binned exactly
 * h.snapshot().posRange;             // 2 * (1 + 1/2048) * 2^5
 * ```
 */
export class StreamingHistogram {
  /** Bins per side. */
  readonly bins: number;
  #pos: Float64Array;
  #neg: Float64Array;
  #rPos = 0;
  #rNeg = 0;

  /** A histogram of `bins` (even, >= 2) bins per side. */
  constructor(bins = 2048) {
    if (!Number.isInteger(bins) || bins < 2 || bins % 2) {
      throw new RangeError(`bins must be an even integer >= 2, got ${bins}`);
    }
    this.bins = bins;
    this.#pos = new Float64Array(bins);
    this.#neg = new Float64Array(bins);
  }

  /** Adds values; `min`/`max` of `data` may be passed when already known. */
  add(data: ArrayLike<number>, min?: number, max?: number): void {
    if (min === undefined || max === undefined) {
      min = Infinity;
      max = -Infinity;
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    if (!(min <= max)) return; // empty or all NaN
    const absMax = Math.max(Math.abs(min), Math.abs(max));
    if (this.#rPos === 0 && absMax > 0) {
      // First non-zero data fix the base range, a little above max |x| so that every
      // value lies strictly inside (the max in the last bin); zeros seen so far sit in
      // bin 0 for any range.
      this.#rPos = this.#rNeg = absMax * (1 + 1 / this.bins);
    }
    if (max > 0) { while (max >= this.#rPos) this.#grow(this.#pos, true); }
    if (min < 0) { while (-min >= this.#rNeg) this.#grow(this.#neg, false); }
    const nb = this.bins, last = nb - 1, pos = this.#pos, neg = this.#neg;
    const ip = this.#rPos > 0 ? nb / this.#rPos : 0, ineg = this.#rNeg > 0 ? nb / this.#rNeg : 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v >= 0) {
        const b = Math.floor(v * ip);
        pos[b > last ? last : b]++;
      } else if (v < 0) {
        const b = Math.floor(-v * ineg);
        neg[b > last ? last : b]++;
      }
    }
  }

  #grow(h: Float64Array, positive: boolean): void {
    const half = this.bins / 2;
    for (let j = 0; j < half; j++) h[j] = h[2 * j] + h[2 * j + 1];
    h.fill(0, half);
    if (positive) this.#rPos *= 2;
    else this.#rNeg *= 2;
  }

  /** A copy of the current state. */
  snapshot(): HistogramData {
    return {
      bins: this.bins,
      pos: this.#pos.slice(),
      neg: this.#neg.slice(),
      posRange: this.#rPos,
      negRange: this.#rNeg,
    };
  }
}

/**
 * The |x| histogram of a snapshot: both sides on the larger of the two ranges
 * (exact, since the ranges differ by a power of two).
 *
 * @example
 * ```ts
 * const { counts, range } = foldAbs(h.snapshot());
 * ```
 */
export function foldAbs(h: HistogramData): { counts: Float64Array; range: number } {
  const range = Math.max(h.posRange, h.negRange);
  const counts = new Float64Array(h.bins);
  const addSide = (side: Float64Array, r: number) => {
    const f = r > 0 ? Math.round(range / r) : 1; // power of two
    for (let i = 0; i < h.bins; i++) counts[Math.floor(i / f)] += side[i];
  };
  addSide(h.pos, h.posRange);
  addSide(h.neg, h.negRange);
  return { counts, range };
}

/** Total count of a histogram snapshot. */
export function histTotal(h: HistogramData): number {
  let n = 0;
  for (let i = 0; i < h.bins; i++) n += h.pos[i] + h.neg[i];
  return n;
}

/**
 * The value below which a fraction `q` (0..1) of the histogrammed values lie,
 * interpolating linearly inside the bin (signed order: negative side first).
 *
 * @example
 * ```ts
 * histQuantile(h.snapshot(), 0.9999);
 * ```
 */
export function histQuantile(h: HistogramData, q: number): number {
  const total = histTotal(h);
  if (total === 0) return 0;
  let target = Math.min(Math.max(q, 0), 1) * total;
  const wn = h.negRange / h.bins, wp = h.posRange / h.bins;
  // Negative side from the most negative bin up to bin 0.
  for (let i = h.bins - 1; i >= 0; i--) {
    const c = h.neg[i];
    if (c > 0 && target <= c) return -(i + 1 - target / c) * wn;
    target -= c;
  }
  for (let i = 0; i < h.bins; i++) {
    const c = h.pos[i];
    if (c > 0 && target <= c) return (i + target / c) * wp;
    target -= c;
  }
  return h.posRange;
}
