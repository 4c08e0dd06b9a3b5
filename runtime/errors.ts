/**
 * The one error family edgeq throws. Every error carries a machine-readable
 * `code` and, where it applies, the node/tensor it concerns.
 *
 * @example
 * ```ts
 * import { EdgeqError } from "./errors.ts";
 * try { throw new EdgeqError("E_UNSUPPORTED_OP", "op Foo is not supported", { node: "n1" }); }
 * catch (e) { if (e instanceof EdgeqError) console.log(e.code); }
 * ```
 */
export type ErrorCode =
  | "E_UNSUPPORTED_OP"
  | "E_UNSUPPORTED_ATTR"
  | "E_UNSUPPORTED_DTYPE"
  | "E_BAD_MODEL"
  | "E_SHAPE"
  | "E_INPUT"
  | "E_FORMAT"
  | "E_CHECKSUM"
  | "E_VERSION"
  | "E_DATA"
  | "E_USAGE"
  | "E_BACKEND";

/** Where an error happened: the node, tensor and op it concerns. */
export interface ErrorWhere {
  node?: string;
  op?: string;
  tensor?: string;
  opset?: number;
  path?: string;
}

/** Base class of every error edgeq throws on bad input or unsupported models. */
export class EdgeqError extends Error {
  /** Machine-readable error kind. */
  readonly code: ErrorCode;
  /** The node / tensor / op the error concerns, when known. */
  readonly where: ErrorWhere;
  constructor(code: ErrorCode, message: string, where: ErrorWhere = {}) {
    const loc = [
      where.path && `file '${where.path}'`,
      where.node !== undefined && `node '${where.node}'`,
      where.op && `op ${where.op}`,
      where.opset !== undefined && `opset ${where.opset}`,
      where.tensor && `tensor '${where.tensor}'`,
    ].filter(Boolean).join(", ");
    super(loc ? `${message} (${loc})` : message);
    this.name = "EdgeqError";
    this.code = code;
    this.where = where;
  }
}
