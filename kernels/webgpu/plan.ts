/**
 * The memory plan of the WebGPU backend: activations share a pool of GPU buffers by
 * liveness (a value's buffer is free again after the last node that reads it), the
 * same idea as the reference executor dropping values after their last use. Best fit:
 * the smallest free buffer that is large enough, else the largest free one grown, else
 * a new one.
 *
 * @example
 * ```ts
 * const p = planMemory([
 *   { name: "a", bytes: 64, def: 0, last: 1 },
 *   { name: "b", bytes: 64, def: 1, last: 2 },
 *   { name: "c", bytes: 32, def: 2, last: 3 }, // reuses a's buffer
 * ]);
 * p.slots.get("c") === p.slots.get("a"); // true
 * ```
 * @module
 */

/** One value to place: defined by step `def`, last read by step `last` (Infinity: pinned). */
export interface Lifetime {
  name: string;
  bytes: number;
  def: number;
  last: number;
}

/** Where every value lives. */
export interface MemoryPlan {
  /** Value name → buffer slot. */
  slots: Map<string, number>;
  /** Byte size of every slot. */
  sizes: number[];
  /** Sum of the slots' sizes. */
  plannedBytes: number;
  /** Sum of the values' sizes (one buffer each). */
  naiveBytes: number;
}

/**
 * Assigns buffer slots to values so that two values share a slot only when their
 * lifetimes `[def, last]` do not overlap.
 *
 * @example
 * ```ts
 * planMemory([{ name: "x", bytes: 4, def: -1, last: Infinity }]).sizes; // [4]
 * ```
 */
export function planMemory(values: readonly Lifetime[]): MemoryPlan {
  const order = [...values].sort((a, b) => a.def - b.def);
  const slots = new Map<string, number>();
  const sizes: number[] = [];
  const active: { slot: number; last: number }[] = [];
  const free: number[] = [];
  for (const v of order) {
    for (let i = active.length - 1; i >= 0; i--) {
      if (active[i].last < v.def) {
        free.push(active[i].slot);
        active.splice(i, 1);
      }
    }
    let pick = -1;
    for (const s of free) {
      if (sizes[s] >= v.bytes && (pick < 0 || sizes[s] < sizes[pick])) pick = s;
    }
    if (pick < 0 && free.length) {
      pick = free.reduce((a, b) => (sizes[a] >= sizes[b] ? a : b));
      sizes[pick] = v.bytes;
    }
    if (pick < 0) {
      pick = sizes.length;
      sizes.push(v.bytes);
    } else free.splice(free.indexOf(pick), 1);
    slots.set(v.name, pick);
    active.push({ slot: pick, last: v.last });
  }
  return {
    slots,
    sizes,
    plannedBytes: sizes.reduce((a, b) => a + b, 0),
    naiveBytes: values.reduce((a, v) => a + v.bytes, 0),
  };
}
