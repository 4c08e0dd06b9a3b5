/**
 * From a packed file (.eqp) to an executable graph: the manifest's node list and
 * zero-copy typed-array views over the file's tensor bytes as initializers.
 */
import { EdgeqError } from "./errors.ts";
import type { Attrs, Graph, Node, ValueInfo } from "./graph.ts";
import type { DType, Tensor } from "./tensor.ts";
import { type PackedFile, readPacked } from "./format/reader.ts";
import { MAGIC } from "./format/spec.ts";
import { refOpFor } from "../kernels/ref/mod.ts";

/** True when the bytes start with the packed-format magic. */
export function isPacked(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

function bad(msg: string, path?: string): never {
  throw new EdgeqError("E_FORMAT", `manifest model: ${msg}`, { path });
}

const isStr = (v: unknown): v is string => typeof v === "string";

function checkValueInfos(v: unknown, what: string, path?: string): ValueInfo[] {
  if (!Array.isArray(v)) bad(`${what} must be an array`, path);
  for (const x of v) {
    if (!x || !isStr(x.name) || !isStr(x.dtype) || !Array.isArray(x.shape)) {
      bad(`${what} entry is malformed`, path);
    }
  }
  return v as ValueInfo[];
}

/**
 * Builds the graph of a packed model. Tensor data are views over the file bytes
 * (no copy) for f32/i32/i8 layouts; constants recorded with another dtype
 * (int64 shape inputs) are converted.
 */
export function graphFromPacked(file: PackedFile, path?: string): Graph {
  const m = file.model as Record<string, unknown> | null;
  if (!m || typeof m !== "object" || m.format !== "edgeq-graph") {
    bad("not an edgeq-graph model", path);
  }
  if (typeof m.opset !== "number") bad("opset missing", path);
  const inputs = checkValueInfos(m.inputs, "inputs", path);
  const outputs = checkValueInfos(m.outputs, "outputs", path);
  if (!Array.isArray(m.nodes)) bad("nodes must be an array", path);
  const nodes: Node[] = (m.nodes as unknown[]).map((raw, i) => {
    const n = raw as Record<string, unknown>;
    if (
      !n || !isStr(n.name) || !isStr(n.op) || !isStr(n.domain) || !Array.isArray(n.inputs) ||
      !Array.isArray(n.outputs) || !n.inputs.every(isStr) || !n.outputs.every(isStr) ||
      typeof n.attrs !== "object" || n.attrs === null
    ) bad(`node ${i} is malformed`, path);
    const node: Node = {
      name: n.name as string,
      op: n.op as string,
      domain: n.domain as string,
      inputs: n.inputs as string[],
      outputs: n.outputs as string[],
      attrs: n.attrs as Attrs,
    };
    if (!refOpFor(node)) {
      throw new EdgeqError("E_UNSUPPORTED_OP", `unsupported op ${node.domain}.${node.op}`, {
        node: node.name,
        path,
      });
    }
    return node;
  });
  const constDtypes = (m.const_dtypes ?? {}) as Record<string, string>;
  const initializers = new Map<string, Tensor>();
  for (const [name, t] of file.tensors) {
    let dtype: DType;
    if (t.layout === "f32") dtype = "float32";
    else if (t.layout === "i32") dtype = "int32";
    else if (t.layout === "i8") dtype = "int8";
    else if (t.layout === "u8") dtype = "uint8";
    else {
      // Sub-byte layouts (i4/i2/b1) stay packed: a uint8 view of the bytes. The node
      // that reads them names the layout and logical shape (w_layout / w_shape).
      const v = t.view as ArrayBufferView;
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      initializers.set(name, { dtype: "uint8", shape: [bytes.length], data: bytes });
      continue;
    }
    let data = t.view as Tensor["data"];
    const want = constDtypes[name] as DType | undefined;
    if (want && want !== dtype) {
      dtype = want;
      data = want === "int64" || want === "float64"
        ? Float64Array.from(data)
        : want === "int32"
        ? Int32Array.from(data)
        : bad(`constant '${name}' has unsupported dtype ${want}`, path);
    }
    initializers.set(name, { dtype, shape: t.shape, data });
  }
  const known = new Set<string>([...initializers.keys(), ...inputs.map((v) => v.name), ""]);
  for (const n of nodes) {
    for (const i of n.inputs) {
      if (!known.has(i)) bad(`node '${n.name}' reads '${i}' before it is produced`, path);
    }
    for (const o of n.outputs) known.add(o);
  }
  for (const o of outputs) if (!known.has(o.name)) bad(`output '${o.name}' never produced`, path);
  return {
    name: isStr(m.name) ? m.name : "graph",
    opset: m.opset as number,
    inputs,
    outputs,
    initializers,
    nodes,
    values: new Map(),
    blocks: [],
  };
}

/** Reads and validates packed bytes and returns the graph and the file. */
export function loadPackedGraph(
  bytes: Uint8Array,
  path?: string,
): { graph: Graph; file: PackedFile } {
  const file = readPacked(bytes, { path });
  return { graph: graphFromPacked(file, path), file };
}
