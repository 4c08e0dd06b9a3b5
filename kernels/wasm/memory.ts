/**
 * Memory of a compiled graph: a bump arena over the shared wasm memory (weights,
 * records, scratch, activations), growing the memory on demand, and the liveness-based
 * placement of activation buffers.
 * @module
 */
import { EdgeqError } from "../../runtime/errors.ts";
import { MAX_PAGES } from "./sources.ts";

/** Bytes reserved at address 0 (null pointers stay invalid). */
export const RESERVED = 1024;

/**
 * A bump allocator over a wasm memory.
 *
 * @example
 * ```ts
 * const a = new Arena(memory);
 * const p = a.alloc(1024); // 16-byte aligned
 * ```
 */
export class Arena {
  /** Next free byte. */
  top: number = RESERVED;
  constructor(readonly memory: WebAssembly.Memory) {}

  /** Allocates `bytes` aligned to `align` (default 16), growing the memory if needed. */
  alloc(bytes: number, align = 16): number {
    const p = Math.ceil(this.top / align) * align;
    this.top = p + bytes;
    this.ensure(this.top);
    return p;
  }

  /** Grows the memory so that `end` bytes are addressable. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / 65536);
    if (have / 65536 + pages > MAX_PAGES) {
      throw new EdgeqError(
        "E_BACKEND",
        `wasm memory would need ${Math.ceil(end / 2 ** 20)} MiB (maximum ${MAX_PAGES / 16} MiB)`,
      );
    }
    this.memory.grow(pages);
  }

  /** Current buffer (re-read after every allocation: growth replaces it). */
  get buffer(): ArrayBufferLike {
    return this.memory.buffer;
  }

  /** Copies bytes into a new allocation. */
  put(data: ArrayBufferView, align = 16): number {
    const p = this.alloc(data.byteLength, align);
    new Uint8Array(this.buffer, p, data.byteLength).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    return p;
  }

  /** Allocates and writes an int32 array. */
  i32(values: ArrayLike<number>): number {
    const p = this.alloc(values.length * 4);
    new Int32Array(this.buffer, p, values.length).set(values);
    return p;
  }
}

/** A value to place: its size and the step range during which it must stay intact. */
export interface Interval {
  name: string;
  bytes: number;
  /** First step that writes it (-1 for graph inputs). */
  start: number;
  /** Last step that reads it (Infinity for graph outputs). */
  end: number;
}

/**
 * Merges each alias into the value it aliases (a Reshape-like copy's output into its
 * input: one buffer for both): the alias's interval is dropped and the root's widened to
 * cover it. `aliases` are [source, alias] pairs in step order (an alias may be the source
 * of a later pair: chains share one root). Pairs whose values are not both in
 * `intervals`, or differ in size, are left alone. Returns alias → root.
 *
 * @example
 * ```ts
 * const root = mergeAliases(iv, [["x", "x_reshaped"]]); // root.get("x_reshaped") === "x"
 * ```
 */
export function mergeAliases(
  intervals: Map<string, Interval>,
  aliases: [string, string][],
): Map<string, string> {
  const root = new Map<string, string>();
  for (const [x, y] of aliases) {
    const r = root.get(x) ?? x;
    const a = intervals.get(r), b = intervals.get(y);
    if (!a || !b || a === b || a.bytes !== b.bytes || root.has(y)) continue;
    a.start = Math.min(a.start, b.start);
    a.end = Math.max(a.end, b.end);
    intervals.delete(y);
    root.set(y, r);
  }
  return root;
}

/**
 * Places intervals in one region so that values alive at the same time never overlap
 * (greedy by size, lowest fitting offset). Returns offsets (16-byte aligned) and the
 * region size.
 *
 * @example
 * ```ts
 * const { offsets, size } = placeIntervals([{ name: "a", bytes: 64, start: 0, end: 1 }]);
 * ```
 */
export function placeIntervals(
  values: Interval[],
): { offsets: Map<string, number>; size: number } {
  const order = [...values].sort((a, b) => b.bytes - a.bytes || a.start - b.start);
  const placed: { off: number; end: number; v: Interval }[] = [];
  const offsets = new Map<string, number>();
  let size = 0;
  for (const v of order) {
    const need = Math.ceil(v.bytes / 16) * 16;
    const busy = placed
      .filter((p) => p.v.start <= v.end && v.start <= p.v.end)
      .sort((a, b) => a.off - b.off);
    let off = 0;
    for (const p of busy) {
      if (off + need <= p.off) break;
      off = Math.max(off, p.end);
    }
    placed.push({ off, end: off + need, v });
    offsets.set(v.name, off);
    size = Math.max(size, off + need);
  }
  return { offsets, size };
}
