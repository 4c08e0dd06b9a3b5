/**
 * Tensors: a dtype tag, a static shape and a flat typed array (row-major).
 *
 * int64 values (ONNX shapes, indices) are held as numbers in a Float64Array:
 * exact up to 2^53, which covers every shape and index a model can use, and lets
 * every kernel work with plain number arithmetic. bool is a Uint8Array of 0/1.
 */
import { EdgeqError } from "./errors.ts";

/** Element types the runtime knows. */
export type DType =
  | "float32"
  | "float64"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "bool";

/** Any typed array a tensor may hold. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** A dense tensor. `data.length === size(shape)`. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** Shape and dtype of a value, without data. */
export interface TensorMeta {
  dtype: DType;
  shape: number[];
}

/** Number of elements of a shape (1 for a scalar `[]`). */
export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates a zero-filled typed array of `n` elements for `dtype`. */
export function allocData(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
    case "int64":
      return new Float64Array(n);
    case "int8":
      return new Int8Array(n);
    case "uint8":
    case "bool":
      return new Uint8Array(n);
    case "int16":
      return new Int16Array(n);
    case "uint16":
      return new Uint16Array(n);
    case "int32":
      return new Int32Array(n);
    case "uint32":
      return new Uint32Array(n);
  }
}

/** A new zero-filled tensor. */
export function zeros(dtype: DType, shape: number[]): Tensor {
  return { dtype, shape: [...shape], data: allocData(dtype, size(shape)) };
}

/** Wraps existing data as a tensor after checking its length. */
export function tensor(dtype: DType, shape: number[], data: TensorData): Tensor {
  if (data.length !== size(shape)) {
    throw new EdgeqError(
      "E_SHAPE",
      `data has ${data.length} elements, shape [${shape}] needs ${size(shape)}`,
    );
  }
  return { dtype, shape: [...shape], data };
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** True for the integer dtypes (bool excluded). */
export function isInteger(dtype: DType): boolean {
  return dtype !== "float32" && dtype !== "float64" && dtype !== "bool";
}

/** Formats a shape for messages: `[1,3,224,224]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}
