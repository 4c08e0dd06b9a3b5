/**
 * Builds small ONNX models in tests with onnx-proto (the same library the
 * importer reads them with), for error paths and graph passes.
 */
import onnx from "onnx-proto";

const P = onnx.onnx;

/** A node description for {@link buildModel}. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  ints?: Record<string, number[]>;
  int?: Record<string, number>;
  float?: Record<string, number>;
}

/** A float32 initializer for {@link buildModel}. */
export interface InitSpec {
  name: string;
  dims: number[];
  data: number[];
}

/** Encodes a model with float32 inputs/outputs of the given shapes. */
export function buildModel(opts: {
  nodes: NodeSpec[];
  inputs: [string, (number | string)[]][];
  outputs: [string, (number | string)[]][];
  inits?: InitSpec[];
  opset?: number;
}): Uint8Array {
  const vi = ([name, dims]: [string, (number | string)[]]) =>
    P.ValueInfoProto.create({
      name,
      type: P.TypeProto.create({
        tensorType: P.TypeProto.Tensor.create({
          elemType: P.TensorProto.DataType.FLOAT,
          shape: P.TensorShapeProto.create({
            dim: dims.map((d) =>
              typeof d === "number"
                ? P.TensorShapeProto.Dimension.create({ dimValue: d })
                : P.TensorShapeProto.Dimension.create({ dimParam: d })
            ),
          }),
        }),
      }),
    });
  const AT = P.AttributeProto.AttributeType;
  const nodes = opts.nodes.map((n, i) =>
    P.NodeProto.create({
      name: n.name ?? `n${i}`,
      opType: n.op,
      domain: n.domain ?? "",
      input: n.inputs,
      output: n.outputs,
      attribute: [
        ...Object.entries(n.ints ?? {}).map(([k, v]) =>
          P.AttributeProto.create({ name: k, type: AT.INTS, ints: v })
        ),
        ...Object.entries(n.int ?? {}).map(([k, v]) =>
          P.AttributeProto.create({ name: k, type: AT.INT, i: v })
        ),
        ...Object.entries(n.float ?? {}).map(([k, v]) =>
          P.AttributeProto.create({ name: k, type: AT.FLOAT, f: v })
        ),
      ],
    })
  );
  const graph = P.GraphProto.create({
    name: "test",
    node: nodes,
    input: opts.inputs.map(vi),
    output: opts.outputs.map(vi),
    initializer: (opts.inits ?? []).map((t) =>
      P.TensorProto.create({
        name: t.name,
        dims: t.dims,
        dataType: P.TensorProto.DataType.FLOAT,
        floatData: t.data,
      })
    ),
  });
  const model = P.ModelProto.create({
    irVersion: 8,
    opsetImport: [P.OperatorSetIdProto.create({ domain: "", version: opts.opset ?? 13 })],
    graph,
  });
  return P.ModelProto.encode(model).finish();
}
