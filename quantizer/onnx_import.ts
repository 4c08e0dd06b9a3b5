/**
 * ONNX import: ModelProto bytes (parsed with onnx-proto) → edgeq {@link Graph}.
 *
 * Checks at import that every op is supported by the reference op set and that
 * every attribute is understood, throwing a typed error naming op, node and opset.
 * Shapes are bound (and constants folded) later by `bindGraph`.
 */
import onnx from "onnx-proto";
import { EdgeqError } from "../runtime/errors.ts";
import type { Attrs, AttrValue, Graph, Node, ValueInfo } from "../runtime/graph.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { REF_OPS } from "../kernels/ref/mod.ts";
import { dtypeFromOnnx, onnxTypeName, tensorFromProto, toNum } from "./onnx_tensor.ts";

type ModelProto = InstanceType<typeof onnx.onnx.ModelProto>;
type GraphProto = InstanceType<typeof onnx.onnx.GraphProto>;
type AttributeProto = InstanceType<typeof onnx.onnx.AttributeProto>;
type ValueInfoProto = InstanceType<typeof onnx.onnx.ValueInfoProto>;

const AT = onnx.onnx.AttributeProto.AttributeType;
const utf8 = new TextDecoder();

/**
 * Lowest default-domain opset the importer accepts. The reference ops implement the
 * pre-opset-7 forms too (legacy `broadcast`/`axis` of binary ops, Gemm `broadcast`,
 * BatchNormalization/Dropout `is_test`, Reshape-1/Slice-1/Pad-2/Split-2 attributes,
 * per-channel PRelu-6...); attributes of older versions they do not implement, such
 * as `consumed_inputs`, are rejected at import as E_UNSUPPORTED_ATTR.
 */
export const MIN_OPSET = 1;
/** Highest default-domain opset the importer accepts. */
export const MAX_OPSET = 18;

/** Options for {@link importOnnx}. */
export interface ImportOptions {
  /** Name used in error messages (e.g. the file path). */
  path?: string;
}

/**
 * Parses ONNX model bytes into a Graph.
 *
 * @example
 * ```ts
 * const g = importOnnx(await Deno.readFile("tests/fixtures/resnet14_op13.onnx"));
 * console.log(g.nodes.length, g.opset);
 * ```
 */
export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): Graph {
  let m: ModelProto;
  try {
    m = onnx.onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new EdgeqError("E_BAD_MODEL", `not a valid ONNX model: ${(e as Error).message}`, {
      path: opts.path,
    });
  }
  if (!m.graph) {
    throw new EdgeqError("E_BAD_MODEL", "ONNX model has no graph", { path: opts.path });
  }
  let opset = -1;
  for (const o of m.opsetImport ?? []) {
    if (!o.domain || o.domain === "ai.onnx") opset = toNum(o.version);
  }
  if (opset < 0) {
    // IR version 1/2 models without opset_import use opset 1; we cannot run those.
    throw new EdgeqError("E_BAD_MODEL", "ONNX model declares no default-domain opset", {
      path: opts.path,
    });
  }
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new EdgeqError(
      "E_BAD_MODEL",
      `default-domain opset ${opset} is outside the supported ${MIN_OPSET}..${MAX_OPSET}`,
      { path: opts.path, opset },
    );
  }
  return importGraph(m.graph as GraphProto, opset, opts.path);
}

function importGraph(g: GraphProto, opset: number, path?: string): Graph {
  const initializers = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? "";
    initializers.set(name, tensorFromProto(t as never, name));
  }
  if ((g.sparseInitializer?.length ?? 0) > 0) {
    throw new EdgeqError("E_BAD_MODEL", "sparse initializers are not supported", { path });
  }
  const inputs = (g.input ?? [])
    .filter((v) => !initializers.has(v.name ?? ""))
    .map((v) => valueInfo(v as ValueInfoProto, path));
  const outputs = (g.output ?? []).map((v) => valueInfo(v as ValueInfoProto, path));

  const nodes: Node[] = [];
  const names = new Set<string>();
  (g.node ?? []).forEach((n, i) => {
    const opType = n.opType ?? "";
    let name = n.name || `${opType}_${i}`;
    while (names.has(name)) name = `${name}_${i}`;
    names.add(name);
    const domain = n.domain === "ai.onnx" ? "" : (n.domain ?? "");
    const where = { node: name, op: opType, opset, path };
    const def = domain === "" ? REF_OPS[opType] : undefined;
    if (!def) {
      throw new EdgeqError(
        "E_UNSUPPORTED_OP",
        `unsupported op ${domain ? domain + "." : ""}${opType}`,
        where,
      );
    }
    const attrs: Attrs = {};
    for (const a of n.attribute ?? []) {
      const an = a.name ?? "";
      if (!def.attrs.includes(an)) {
        throw new EdgeqError(
          "E_UNSUPPORTED_ATTR",
          `unsupported attribute '${an}' of ${opType}`,
          where,
        );
      }
      attrs[an] = attrValue(a as AttributeProto, where);
    }
    nodes.push({
      name,
      op: opType,
      domain,
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs,
    });
  });
  const graph: Graph = {
    name: g.name || "graph",
    opset,
    inputs,
    outputs,
    initializers,
    nodes,
    values: new Map(),
    blocks: [],
  };
  checkTopological(graph, path);
  return graph;
}

function valueInfo(v: ValueInfoProto, path?: string): ValueInfo {
  const tt = v.type?.tensorType;
  if (!tt) {
    throw new EdgeqError("E_BAD_MODEL", "graph input/output is not a tensor", {
      tensor: v.name,
      path,
    });
  }
  const elem = tt.elemType ?? 0;
  const dtype = dtypeFromOnnx(elem);
  if (!dtype) {
    throw new EdgeqError(
      "E_UNSUPPORTED_DTYPE",
      `element type ${onnxTypeName(elem)} is not supported`,
      { tensor: v.name, path },
    );
  }
  const shape = (tt.shape?.dim ?? []).map((d, i) => {
    if (d.dimParam) return d.dimParam;
    if (
      d.dimValue !== undefined && d.dimValue !== null &&
      (d as { value?: string }).value === "dimValue"
    ) {
      return toNum(d.dimValue);
    }
    return `?${i}`;
  });
  return { name: v.name, dtype, shape };
}

function attrValue(a: AttributeProto, where: Record<string, unknown>): AttrValue {
  let type = a.type;
  if (!type) {
    // Very old files leave `type` unset: infer from the populated field.
    if (a.ints?.length) type = AT.INTS;
    else if (a.floats?.length) type = AT.FLOATS;
    else if (a.strings?.length) type = AT.STRINGS;
    else if (a.t) type = AT.TENSOR;
    else if (a.s?.length) type = AT.STRING;
    else if (a.f) type = AT.FLOAT;
    else type = AT.INT;
  }
  switch (type) {
    case AT.FLOAT:
      return a.f;
    case AT.INT:
      return toNum(a.i);
    case AT.STRING:
      return utf8.decode(a.s);
    case AT.FLOATS:
      return [...a.floats];
    case AT.INTS:
      return a.ints.map(toNum);
    case AT.STRINGS:
      return a.strings.map((s) => utf8.decode(s));
    case AT.TENSOR:
      return tensorFromProto(a.t as never, `${where.node}.${a.name}`);
    case AT.TENSORS:
      return a.tensors.map((t, i) => tensorFromProto(t as never, `${where.node}.${a.name}[${i}]`));
  }
  throw new EdgeqError(
    "E_UNSUPPORTED_ATTR",
    `attribute '${a.name}' has unsupported type ${AT[type] ?? type}`,
    where,
  );
}

function checkTopological(g: Graph, path?: string): void {
  const known = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ""]);
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (!known.has(i)) {
        throw new EdgeqError(
          "E_BAD_MODEL",
          `input '${i}' is not produced before use (graph not topologically sorted?)`,
          { node: n.name, op: n.op, path },
        );
      }
    }
    for (const o of n.outputs) if (o) known.add(o);
  }
  for (const o of g.outputs) {
    if (!known.has(o.name)) {
      throw new EdgeqError("E_BAD_MODEL", "graph output is never produced", {
        tensor: o.name,
        path,
      });
    }
  }
}
