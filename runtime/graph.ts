/**
 * The graph IR shared by the quantizer and the runtime.
 *
 * Nodes are kept in topological order. Value names are ONNX's; an empty input
 * name means "optional input not given". After {@link bindGraph} every value has
 * a static {@link TensorMeta} in `values`, and nodes whose inputs are all
 * constant have been folded into `initializers`.
 */
import type { DType, Tensor, TensorMeta } from "./tensor.ts";

/** An attribute value as imported from ONNX. */
export type AttrValue = number | string | number[] | string[] | Tensor | Tensor[];

/** Attributes of a node, by name. */
export type Attrs = Record<string, AttrValue>;

/** One operation. */
export interface Node {
  name: string;
  op: string;
  /** ONNX domain; "" for the default ai.onnx domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
}

/** A graph input/output before binding: dims may be symbolic (strings) or unknown (-1). */
export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: (number | string)[];
}

/**
 * A residual block: the nodes between a fork and the Add that joins its shortcut.
 * `nodes` are indices into `Graph.nodes` (the body, Add included). When the block is
 * skipped at run time its output is the shortcut value.
 */
export interface ResidualBlock {
  index: number;
  /** Tensor both the body and the shortcut start from. */
  input: string;
  /** Tensor the Add takes from the shortcut path (== input for an identity shortcut). */
  shortcut: string;
  /** Tensor the join takes from the body (for a fused residual QConv: the conv's X). */
  body: string;
  /** The join's output (the block's output). */
  output: string;
  /** Name of the joining node (Add, QAdd, or a QConv with a residual input). */
  join: string;
  /** Index of the join's input that carries the body value (for a QConv: 0, its X). */
  bodyInput: number;
  /** Node names of the body path, the joining Add last (shortcut-path nodes excluded). */
  nodes: string[];
  /** Node names on the shortcut path (e.g. a 1x1 downsampling conv), possibly empty. */
  shortcutNodes: string[];
}

/** A model graph. */
export interface Graph {
  name: string;
  /** Opset of the default domain. */
  opset: number;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, Tensor>;
  nodes: Node[];
  /** Static metadata of every value, filled by binding. */
  values: Map<string, TensorMeta>;
  /** Residual blocks, filled by {@link findResidualBlocks}. */
  blocks: ResidualBlock[];
}

/** Reads an integer attribute. */
export function attrInt(attrs: Attrs, name: string, dflt: number): number {
  const v = attrs[name];
  return typeof v === "number" ? v : dflt;
}

/** Reads a float attribute. */
export function attrFloat(attrs: Attrs, name: string, dflt: number): number {
  const v = attrs[name];
  return typeof v === "number" ? v : dflt;
}

/** Reads a list-of-ints attribute. */
export function attrInts(attrs: Attrs, name: string): number[] | undefined;
export function attrInts(attrs: Attrs, name: string, dflt: number[]): number[];
export function attrInts(attrs: Attrs, name: string, dflt?: number[]): number[] | undefined {
  const v = attrs[name];
  return Array.isArray(v) ? v as number[] : dflt;
}

/** Reads a string attribute. */
export function attrString(attrs: Attrs, name: string, dflt: string): string {
  const v = attrs[name];
  return typeof v === "string" ? v : dflt;
}
