/**
 * Packing layouts of the packed model format: ONE table, with the bit budget of every
 * layout written next to it (the ggml way). Everything that needs to know how a tensor
 * is laid out in bytes (writer, reader, reference kernels, tests) asks this module.
 *
 * Rules shared by all layouts:
 * - Row-major, little-endian.
 * - The LAST axis is the reduction axis ("k"); the leading axes together are the rows.
 *   A scalar shape `[]` is one row of one element. A zero in any dimension means no
 *   bytes at all.
 * - Sub-byte layouts (i4, i2, b1) pack along the reduction axis, element j of a row at
 *   bit `j * bits` of the row's little-endian bit stream (bit 0 = least significant bit
 *   of the row's first byte), and pad every row to a whole unit (a byte for i4/i2, a
 *   32-bit little-endian word for b1) with zero bits, so that every row starts on a
 *   unit boundary. Padding is written as zeros and ignored on reading.
 *
 * @module
 */
import { EdgeqError } from "../errors.ts";

/**
 * Name of a packing layout.
 *
 * @example
 * ```ts
 * import type { LayoutName } from "./layouts.ts";
 * const l: LayoutName = "i4";
 * ```
 */
export type LayoutName = "f32" | "i32" | "i8" | "u8" | "i4" | "i2" | "b1";

/**
 * Element type of the values a layout holds once unpacked.
 *
 * @example
 * ```ts
 * import { type ElementType, LAYOUTS } from "./layouts.ts";
 * const t: ElementType = LAYOUTS.b1.dtype; // "int8"
 * ```
 */
export type ElementType = "float32" | "int32" | "int8" | "uint8";

/**
 * What the reader's zero-copy view of a tensor is, per layout.
 *
 * @example
 * ```ts
 * import { LAYOUTS, type ViewType } from "./layouts.ts";
 * const v: ViewType = LAYOUTS.b1.view; // "Uint32Array"
 * ```
 */
export type ViewType = "Float32Array" | "Int32Array" | "Int8Array" | "Uint8Array" | "Uint32Array";

/**
 * One row of the layout table.
 *
 * @example
 * ```ts
 * import { type Layout, LAYOUTS } from "./layouts.ts";
 * const l: Layout = LAYOUTS.i2; // { bits: 2, min: -2, max: 1, ... }
 * ```
 */
export interface Layout {
  /** Layout name, as written in the manifest. */
  readonly name: LayoutName;
  /** Bits per element (the bit budget). */
  readonly bits: number;
  /** Element type of unpacked values (`unpack` returns this typed array). */
  readonly dtype: ElementType;
  /** Smallest and largest value a layout can hold (integers), or ±Infinity for f32. */
  readonly min: number;
  readonly max: number;
  /** Bytes per packing unit: a row is padded to a whole unit (1 = byte, 4 = 32-bit word). */
  readonly unitBytes: number;
  /** True for sub-byte layouts, which pack along the reduction axis with row padding. */
  readonly rowPacked: boolean;
  /** The typed array the reader's zero-copy `view` uses (element size divides 64). */
  readonly view: ViewType;
  /** One line of description for docs and `inspect`. */
  readonly doc: string;
}

/**
 * THE table of layouts. Bytes for shape `[...rows, k]` (R = product of leading dims,
 * n = R·k):
 *
 * | name | bits | values           | packing                                        | bytes          |
 * |------|-----:|------------------|------------------------------------------------|----------------|
 * | f32  |   32 | IEEE-754 binary32| 4 bytes LE per element                         | 4·n            |
 * | i32  |   32 | int32            | 4 bytes LE two's complement                    | 4·n            |
 * | i8   |    8 | -128..127        | 1 byte two's complement                        | n              |
 * | u8   |    8 | 0..255           | 1 byte                                         | n              |
 * | i4   |    4 | -8..7            | 2 per byte, low nibble first, row → whole byte | R·⌈k/2⌉        |
 * | i2   |    2 | -2..1            | 4 per byte, low crumb first, row → whole byte  | R·⌈k/4⌉        |
 * | b1   |    1 | {-1,+1}          | 32 per LE u32 word, bit=1 ⇔ +1, row → whole word | R·4·⌈k/32⌉   |
 *
 * @example
 * ```ts
 * import { LAYOUTS } from "./layouts.ts";
 * LAYOUTS.i4.bits; // 4
 * LAYOUTS.b1.unitBytes; // 4 (rows padded to 32-bit words)
 * ```
 */
export const LAYOUTS: Readonly<Record<LayoutName, Layout>> = Object.freeze({
  //   name       bits  dtype        min          max         unit  rowPacked  view
  f32: row("f32", 32, "float32", -Infinity, Infinity, 4, false, "Float32Array", "float32, 4 B LE"),
  i32: row("i32", 32, "int32", -2147483648, 2147483647, 4, false, "Int32Array", "int32, 4 B LE"),
  i8: row("i8", 8, "int8", -128, 127, 1, false, "Int8Array", "int8, 1 B"),
  u8: row("u8", 8, "uint8", 0, 255, 1, false, "Uint8Array", "uint8, 1 B"),
  i4: row("i4", 4, "int8", -8, 7, 1, true, "Uint8Array", "int4 nibbles, low first, rows → byte"),
  i2: row("i2", 2, "int8", -2, 1, 1, true, "Uint8Array", "int2 crumbs, low first, rows → byte"),
  b1: row("b1", 1, "int8", -1, 1, 4, true, "Uint32Array", "±1 bits (1=+1), rows → LE u32 word"),
});

function row(
  name: LayoutName,
  bits: number,
  dtype: ElementType,
  min: number,
  max: number,
  unitBytes: number,
  rowPacked: boolean,
  view: ViewType,
  doc: string,
): Layout {
  return Object.freeze({ name, bits, dtype, min, max, unitBytes, rowPacked, view, doc });
}

/**
 * Values accepted by `pack` and returned by `unpack`.
 *
 * @example
 * ```ts
 * import type { LayoutValues } from "./layouts.ts";
 * const v: LayoutValues = new Int8Array([1, -1]);
 * ```
 */
export type LayoutValues = Int8Array | Uint8Array | Int32Array | Float32Array;

/**
 * True when `name` is a layout of the table.
 *
 * @example
 * ```ts
 * import { isLayoutName } from "./layouts.ts";
 * isLayoutName("i4"); // true
 * isLayoutName("q5_k"); // false
 * ```
 */
export function isLayoutName(name: unknown): name is LayoutName {
  return typeof name === "string" && Object.hasOwn(LAYOUTS, name);
}

/**
 * The layout called `name`, or an `E_USAGE` error naming the known ones.
 *
 * @example
 * ```ts
 * import { layoutOf } from "./layouts.ts";
 * layoutOf("b1").bits; // 1
 * ```
 */
export function layoutOf(name: string): Layout {
  if (!isLayoutName(name)) {
    throw new EdgeqError(
      "E_USAGE",
      `unknown layout '${name}' (known: ${Object.keys(LAYOUTS).join(", ")})`,
    );
  }
  return LAYOUTS[name];
}

/**
 * Rows and row length of a shape under the row rule: the last axis is the reduction axis
 * (`k`), the leading axes are the rows; `[]` is one row of one element. Throws `E_SHAPE`
 * for a dimension that is not a non-negative safe integer or an element count beyond
 * 2^53.
 *
 * @example
 * ```ts
 * import { rowsOf } from "./layouts.ts";
 * rowsOf([3, 1, 33]); // { rows: 3, k: 33, count: 99 }
 * ```
 */
export function rowsOf(shape: readonly number[]): { rows: number; k: number; count: number } {
  if (!Array.isArray(shape)) throw new EdgeqError("E_SHAPE", "shape must be an array");
  let rows = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new EdgeqError("E_SHAPE", `shape [${shape}] has a bad dimension ${d} at axis ${i}`);
    }
    if (i < shape.length - 1) rows *= d;
  }
  const k = shape.length === 0 ? 1 : shape[shape.length - 1];
  const count = rows * k;
  if (!Number.isSafeInteger(count)) {
    throw new EdgeqError("E_SHAPE", `shape [${shape}] has more than 2^53 elements`);
  }
  return { rows, k, count };
}

/**
 * Number of elements of a shape (1 for `[]`).
 *
 * @example
 * ```ts
 * import { elementCount } from "./layouts.ts";
 * elementCount([5, 7]); // 35
 * ```
 */
export function elementCount(shape: readonly number[]): number {
  return rowsOf(shape).count;
}

/**
 * Bytes of one packed row of `k` elements (sub-byte layouts), including its padding.
 *
 * @example
 * ```ts
 * import { rowBytes } from "./layouts.ts";
 * rowBytes("i4", 7); // 4
 * rowBytes("b1", 33); // 8 (two 32-bit words)
 * ```
 */
export function rowBytes(layout: LayoutName | Layout, k: number): number {
  const l = typeof layout === "string" ? layoutOf(layout) : layout;
  const perUnit = (l.unitBytes * 8) / l.bits;
  return Math.ceil(k / perUnit) * l.unitBytes;
}

/**
 * Bytes a tensor of `shape` takes in `layout` (the exact length the manifest must
 * declare). Throws `E_SHAPE` for a bad shape or a size beyond 2^53.
 *
 * @example
 * ```ts
 * import { bytesFor } from "./layouts.ts";
 * bytesFor("f32", [5, 7]); // 140
 * bytesFor("i4", [5, 7]); // 20: 5 rows of ⌈7/2⌉ bytes
 * bytesFor("b1", [3, 1, 33]); // 24: 3 rows of two 32-bit words
 * ```
 */
export function bytesFor(layout: LayoutName | Layout, shape: readonly number[]): number {
  const l = typeof layout === "string" ? layoutOf(layout) : layout;
  const { rows, k, count } = rowsOf(shape);
  const n = l.rowPacked ? rows * rowBytes(l, k) : count * (l.bits / 8);
  if (!Number.isSafeInteger(n)) {
    throw new EdgeqError("E_SHAPE", `shape [${shape}] in layout ${l.name} exceeds 2^53 bytes`);
  }
  return n;
}

function checkValue(l: Layout, v: number, i: number): number {
  if (l.name === "f32") return v;
  if (!Number.isInteger(v) || v < l.min || v > l.max || (l.name === "b1" && v === 0)) {
    const range = l.name === "b1" ? "-1 or +1" : `${l.min}..${l.max}`;
    throw new EdgeqError(
      "E_DATA",
      `value ${v} at index ${i} does not fit layout ${l.name} (${range})`,
    );
  }
  return v;
}

/**
 * Packs `values` (row-major, `shape`) into the bytes of `layout`. Values must fit the
 * layout: integers in its range (i4: -8..7, i2: -2..1, b1: exactly -1 or +1) — any other
 * value is an `E_DATA` error; a length that does not match the shape is `E_SHAPE`.
 * f32 accepts any numbers (stored as float32).
 *
 * @example
 * ```ts
 * import { pack } from "./layouts.ts";
 * pack("i4", new Int8Array([1, -1, 7]), [3]); // Uint8Array [0xf1, 0x07]
 * pack("b1", new Int8Array([1, -1, 1]), [3]); // Uint8Array [0x05, 0, 0, 0]
 * ```
 */
export function pack(
  layout: LayoutName | Layout,
  values: LayoutValues,
  shape: readonly number[],
): Uint8Array {
  const l = typeof layout === "string" ? layoutOf(layout) : layout;
  const { rows, k, count } = rowsOf(shape);
  if (values.length !== count) {
    throw new EdgeqError(
      "E_SHAPE",
      `layout ${l.name}: ${values.length} values for shape [${shape}] (needs ${count})`,
    );
  }
  const out = new Uint8Array(bytesFor(l, shape));
  if (!l.rowPacked) {
    const dv = new DataView(out.buffer);
    for (let i = 0; i < count; i++) {
      const v = checkValue(l, values[i], i);
      switch (l.name) {
        case "f32":
          dv.setFloat32(i * 4, v, true);
          break;
        case "i32":
          dv.setInt32(i * 4, v, true);
          break;
        case "i8":
          dv.setInt8(i, v);
          break;
        default:
          dv.setUint8(i, v);
      }
    }
    return out;
  }
  const rb = rowBytes(l, k);
  const mask = (1 << l.bits) - 1;
  for (let r = 0; r < rows; r++) {
    const base = r * rb;
    for (let j = 0; j < k; j++) {
      const i = r * k + j;
      const v = checkValue(l, values[i], i);
      const code = l.name === "b1" ? (v > 0 ? 1 : 0) : v & mask;
      const bit = j * l.bits;
      out[base + (bit >> 3)] |= code << (bit & 7);
    }
  }
  return out;
}

/**
 * Unpacks `bytes` of `layout` holding a tensor of `shape` into values: Float32Array for
 * f32, Int32Array for i32, Uint8Array for u8, Int8Array for i8/i4/i2/b1 (b1 gives -1/+1).
 * Always copies (the reader's `view` is the zero-copy path). `E_FORMAT` when `bytes` is
 * not exactly `bytesFor(layout, shape)` long.
 *
 * @example
 * ```ts
 * import { pack, unpack } from "./layouts.ts";
 * unpack("i4", pack("i4", new Int8Array([1, -1, 7]), [3]), [3]); // Int8Array [1, -1, 7]
 * ```
 */
export function unpack(
  layout: LayoutName | Layout,
  bytes: Uint8Array,
  shape: readonly number[],
): LayoutValues {
  const l = typeof layout === "string" ? layoutOf(layout) : layout;
  const { rows, k, count } = rowsOf(shape);
  const need = bytesFor(l, shape);
  if (bytes.length !== need) {
    throw new EdgeqError(
      "E_FORMAT",
      `layout ${l.name}: ${bytes.length} bytes for shape [${shape}] (needs ${need})`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (l.name) {
    case "f32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    }
    case "i32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    }
    case "i8":
      return new Int8Array(bytes.slice().buffer);
    case "u8":
      return bytes.slice();
  }
  const out = new Int8Array(count);
  const rb = rowBytes(l, k);
  const mask = (1 << l.bits) - 1;
  const sign = 1 << (l.bits - 1);
  for (let r = 0; r < rows; r++) {
    const base = r * rb;
    for (let j = 0; j < k; j++) {
      const bit = j * l.bits;
      const code = (bytes[base + (bit >> 3)] >> (bit & 7)) & mask;
      out[r * k + j] = l.name === "b1" ? (code ? 1 : -1) : (code ^ sign) - sign;
    }
  }
  return out;
}
