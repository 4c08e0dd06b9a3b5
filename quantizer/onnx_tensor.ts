/**
 * Decoding ONNX TensorProto messages (parsed by onnx-proto / protobufjs) into
 * edgeq {@link Tensor}s. Used for initializers, Constant attributes and the
 * `.pb` files of the ONNX backend test data.
 */
import onnx from "onnx-proto";
import { EdgeqError } from "../runtime/errors.ts";
import { allocData, type DType, size, type Tensor } from "../runtime/tensor.ts";

type Long = { toNumber(): number } | number;
type TensorProto = InstanceType<typeof onnx.onnx.TensorProto>;

const DT = onnx.onnx.TensorProto.DataType;

/** ONNX elem_type number → edgeq dtype (undefined when unsupported). */
export function dtypeFromOnnx(t: number): DType | undefined {
  switch (t) {
    case DT.FLOAT:
      return "float32";
    case DT.DOUBLE:
      return "float64";
    case DT.UINT8:
      return "uint8";
    case DT.INT8:
      return "int8";
    case DT.UINT16:
      return "uint16";
    case DT.INT16:
      return "int16";
    case DT.INT32:
      return "int32";
    case DT.UINT32:
      return "uint32";
    case DT.INT64:
      return "int64";
    case DT.BOOL:
      return "bool";
  }
  return undefined;
}

/** edgeq dtype → ONNX elem_type number. */
export function dtypeToOnnx(d: DType): number {
  const m: Record<DType, number> = {
    float32: DT.FLOAT,
    float64: DT.DOUBLE,
    uint8: DT.UINT8,
    int8: DT.INT8,
    uint16: DT.UINT16,
    int16: DT.INT16,
    int32: DT.INT32,
    uint32: DT.UINT32,
    int64: DT.INT64,
    bool: DT.BOOL,
  };
  return m[d];
}

/** Name of an ONNX elem_type for messages. */
export function onnxTypeName(t: number): string {
  return (DT as unknown as Record<number, string>)[t] ?? `type ${t}`;
}

/** Converts a protobufjs Long (or number) to a JS number. */
export function toNum(v: Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : v.toNumber();
}

const BYTES: Partial<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  bool: 1,
};

/**
 * Decodes a TensorProto. `what` names the tensor in errors.
 * Throws E_UNSUPPORTED_DTYPE for float16/string/complex and external data.
 */
export function tensorFromProto(p: TensorProto, what = p.name || "(unnamed)"): Tensor {
  const dtype = dtypeFromOnnx(p.dataType);
  if (!dtype) {
    throw new EdgeqError(
      "E_UNSUPPORTED_DTYPE",
      `tensor element type ${onnxTypeName(p.dataType)} is not supported`,
      { tensor: what },
    );
  }
  if (p.dataLocation === onnx.onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new EdgeqError("E_BAD_MODEL", "tensors with external data are not supported", {
      tensor: what,
    });
  }
  const shape = (p.dims ?? []).map(toNum);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new EdgeqError("E_BAD_MODEL", `invalid dims [${shape}]`, { tensor: what });
  }
  const n = size(shape);
  const data = allocData(dtype, n);
  const raw = p.rawData;
  if (raw && raw.length > 0) {
    const nb = BYTES[dtype]!;
    if (raw.length !== n * nb) {
      throw new EdgeqError(
        "E_BAD_MODEL",
        `raw_data has ${raw.length} bytes, dims [${shape}] of ${dtype} need ${n * nb}`,
        { tensor: what },
      );
    }
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) data[i] = readLE(dv, dtype, i * nb);
    return { dtype, shape, data };
  }
  // Typed repeated fields.
  let src: ArrayLike<Long>;
  switch (dtype) {
    case "float32":
      src = p.floatData;
      break;
    case "float64":
      src = p.doubleData;
      break;
    case "int64":
      src = p.int64Data;
      break;
    case "uint32":
      src = p.uint64Data;
      break;
    default:
      src = p.int32Data;
  }
  if ((src?.length ?? 0) !== n) {
    throw new EdgeqError(
      "E_BAD_MODEL",
      `tensor holds ${src?.length ?? 0} values, dims [${shape}] need ${n}`,
      { tensor: what },
    );
  }
  for (let i = 0; i < n; i++) data[i] = toNum(src[i]);
  return { dtype, shape, data };
}

function readLE(dv: DataView, dtype: DType, off: number): number {
  switch (dtype) {
    case "float32":
      return dv.getFloat32(off, true);
    case "float64":
      return dv.getFloat64(off, true);
    case "uint8":
    case "bool":
      return dv.getUint8(off);
    case "int8":
      return dv.getInt8(off);
    case "uint16":
      return dv.getUint16(off, true);
    case "int16":
      return dv.getInt16(off, true);
    case "int32":
      return dv.getInt32(off, true);
    case "uint32":
      return dv.getUint32(off, true);
    case "int64":
      return Number(dv.getBigInt64(off, true));
  }
}

/** Decodes a serialized TensorProto (e.g. the backend tests' `input_0.pb`). */
export function decodeTensorProto(bytes: Uint8Array, what = "(tensor file)"): Tensor {
  let p: TensorProto;
  try {
    p = onnx.onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new EdgeqError("E_BAD_MODEL", `not a TensorProto: ${(e as Error).message}`, {
      tensor: what,
    });
  }
  return tensorFromProto(p, p.name || what);
}
