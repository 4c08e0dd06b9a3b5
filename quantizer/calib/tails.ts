/**
 * Bounded tail buffers: the k largest (or k smallest) values of a stream, kept
 * without holding the stream. New values beyond the current k-th value are
 * appended to a candidate area; when it fills up, the buffer is sorted and cut
 * back to k ("merged sorted buffers"). Memory is O(k), time O(n + (n/k) k log k).
 */

/** Which tail a {@link TailBuffer} keeps. */
export type TailSide = "largest" | "smallest";

/**
 * The k largest or k smallest values seen, NaN ignored.
 *
 * @example
 * ```ts
 * const t = new TailBuffer(3, "largest");
 * t.add(new Float32Array([5, 1, 9, 7, 3]));
 * t.values(); // Float64Array [9, 7, 5]
 * ```
 */
export class TailBuffer {
  /** Capacity: how many values are kept. */
  readonly k: number;
  /** Which tail is kept. */
  readonly side: TailSide;
  // Keys: -v for "largest", v for "smallest"; the k smallest keys are kept.
  #buf: Float64Array;
  #n = 0;
  #thr = Infinity;

  /** A buffer for the `k` (>= 1) extreme values on `side`. */
  constructor(k: number, side: TailSide) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`tail size must be >= 1, got ${k}`);
    this.k = k;
    this.side = side;
    this.#buf = new Float64Array(Math.max(2 * k, 1024));
  }

  /**
   * Offers `count` values of `data`, starting at `start`, `stride` apart
   * (defaults: the whole array, contiguous).
   */
  add(data: ArrayLike<number>, start = 0, count = data.length - start, stride = 1): void {
    const buf = this.#buf, cap = buf.length, sign = this.side === "largest" ? -1 : 1;
    let n = this.#n, thr = this.#thr;
    for (let i = 0, j = start; i < count; i++, j += stride) {
      const key = sign * data[j];
      if (key < thr) {
        buf[n++] = key;
        if (n === cap) {
          this.#n = n;
          this.#compact();
          n = this.#n;
          thr = this.#thr;
        }
      }
    }
    this.#n = n;
  }

  #compact(): void {
    const kept = this.#buf.subarray(0, this.#n).sort();
    this.#n = Math.min(kept.length, this.k);
    this.#thr = this.#n === this.k ? kept[this.k - 1] : Infinity;
  }

  /** Number of values held (min(k, values seen)). */
  get size(): number {
    this.#compact();
    return this.#n;
  }

  /**
   * The kept values, most extreme first: descending for "largest" (element 0 is
   * the max), ascending for "smallest" (element 0 is the min).
   */
  values(): Float64Array {
    this.#compact();
    const out = this.#buf.slice(0, this.#n);
    if (this.side === "largest") { for (let i = 0; i < out.length; i++) out[i] = -out[i]; }
    return out;
  }
}

/**
 * Tail size for a sample count: `max(floor, ceil(fraction * count))`
 * (ALGORITHMS.md B: "k1, k2 are a fraction of the sample count, at least 8").
 *
 * @example
 * ```ts
 * tailSize(1_000_000); // 1000
 * tailSize(100); // 8
 * ```
 */
export function tailSize(count: number, fraction = 1e-3, floor = 8): number {
  return Math.max(floor, Math.ceil(fraction * count));
}
