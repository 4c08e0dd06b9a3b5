/**
 * One-input elementwise reference ops (activations, math functions, predicates).
 *
 * Each op is a scalar function of the element built from the node's attributes; values
 * are computed in float64 and stored through the output typed array (float32 rounds,
 * integers wrap like C, int64 truncates toward zero).
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrFloat, attrInt, attrString } from "../../runtime/graph.ts";
import { allocData, type DType, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef } from "./op.ts";
import { erf } from "./erf.ts";
import { checkDType, checkLength, FLOAT, NUMERIC, SIGNED, toInt64 } from "./ref_util.ts";

type Fn1 = (x: number) => number;

interface UnarySpec {
  types: readonly DType[];
  out?: DType;
  attrs?: readonly string[];
  /** Builds the scalar function (validating attributes). */
  make: (attrs: Attrs, ctx: OpContext) => Fn1;
}

/**
 * Applies `f` to every element of `x`, storing into a new `outDtype` tensor.
 *
 * @example
 * ```ts
 * const y = mapUnary(ctx, x, x.dtype, Math.exp);
 * ```
 */
export function mapUnary(ctx: OpContext, x: Tensor, outDtype: DType, f: Fn1): Tensor {
  checkLength(ctx, x, "X");
  const n = x.data.length;
  const out = allocData(outDtype, n);
  const src = x.data;
  if (outDtype === "int64") { for (let i = 0; i < n; i++) out[i] = toInt64(f(src[i])); }
  else for (let i = 0; i < n; i++) out[i] = f(src[i]);
  return { dtype: outDtype, shape: [...x.shape], data: out };
}

/**
 * Builds a one-input elementwise op from a scalar function.
 *
 * @example
 * ```ts
 * const Exp = unaryOp({ types: FLOAT, make: () => Math.exp });
 * ```
 */
export function unaryOp(spec: UnarySpec): OpDef {
  const check = <T extends TensorMeta>(ins: (T | undefined)[], attrs: Attrs, ctx: OpContext) => {
    const x = need(ins, 0, ctx);
    checkDType(ctx, x, spec.types, "X");
    return { x, f: spec.make(attrs, ctx) };
  };
  return {
    attrs: spec.attrs ?? [],
    infer(ins, attrs, _c, ctx) {
      const { x } = check(ins, attrs, ctx);
      return [{ dtype: spec.out ?? x.dtype, shape: [...x.shape] }];
    },
    run(ins, attrs, ctx) {
      const { x, f } = check(ins, attrs, ctx);
      return [mapUnary(ctx, x, spec.out ?? x.dtype, f)];
    },
  };
}

/** Float-only op without attributes. */
const fl = (f: Fn1): OpDef => unaryOp({ types: FLOAT, make: () => f });

/** Float-only op whose function depends on float attributes (with defaults). */
function flAttrs(defaults: Record<string, number>, make: (a: Record<string, number>) => Fn1) {
  return unaryOp({
    types: FLOAT,
    attrs: Object.keys(defaults),
    make: (attrs) => {
      const a: Record<string, number> = {};
      for (const [k, d] of Object.entries(defaults)) a[k] = attrFloat(attrs, k, d);
      return make(a);
    },
  });
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * Rounds half to even (banker's rounding), as ONNX Round and numpy.round.
 *
 * @example
 * ```ts
 * roundHalfEven(2.5); // 2
 * ```
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const Gelu = unaryOp({
  types: FLOAT,
  attrs: ["approximate"],
  make: (attrs, ctx) => {
    const mode = attrString(attrs, "approximate", "none");
    if (mode === "none") return (x) => 0.5 * x * (1 + erf(x * SQRT1_2));
    if (mode === "tanh") {
      return (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    }
    return attrError(ctx, `approximate must be "none" or "tanh", got "${mode}"`);
  },
});

const IsInf = unaryOp({
  types: FLOAT,
  out: "bool",
  attrs: ["detect_negative", "detect_positive"],
  make: (attrs) => {
    const neg = attrInt(attrs, "detect_negative", 1) !== 0;
    const pos = attrInt(attrs, "detect_positive", 1) !== 0;
    return (x) => (x === Infinity && pos) || (x === -Infinity && neg) ? 1 : 0;
  },
});

/** The one-input elementwise ops, by ONNX op type. */
export const UNARY_OPS: Record<string, OpDef> = {
  Relu: unaryOp({ types: SIGNED, make: () => (x) => x > 0 ? x : 0 }),
  LeakyRelu: flAttrs({ alpha: 0.01 }, ({ alpha }) => (x) => x < 0 ? alpha * x : x),
  Elu: flAttrs({ alpha: 1 }, ({ alpha }) => (x) => x < 0 ? alpha * Math.expm1(x) : x),
  Selu: flAttrs(
    { alpha: 1.67326319217681884765625, gamma: 1.05070102214813232421875 },
    ({ alpha, gamma }) => (x) => x <= 0 ? gamma * alpha * Math.expm1(x) : gamma * x,
  ),
  Celu: flAttrs(
    { alpha: 1 },
    ({ alpha }) => (x) => Math.max(0, x) + Math.min(0, alpha * Math.expm1(x / alpha)),
  ),
  ThresholdedRelu: flAttrs({ alpha: 1 }, ({ alpha }) => (x) => x > alpha ? x : 0),
  Sigmoid: fl(sigmoid),
  HardSigmoid: flAttrs(
    { alpha: 0.2, beta: 0.5 },
    ({ alpha, beta }) => (x) => Math.max(0, Math.min(1, alpha * x + beta)),
  ),
  HardSwish: fl((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))),
  Tanh: fl(Math.tanh),
  Erf: fl(erf),
  Gelu,
  Softplus: fl(softplus),
  Softsign: fl((x) => x / (1 + Math.abs(x))),
  Mish: fl((x) => x * Math.tanh(softplus(x))),
  Exp: fl(Math.exp),
  Log: fl(Math.log),
  Sqrt: fl(Math.sqrt),
  Reciprocal: fl((x) => 1 / x),
  Abs: unaryOp({ types: NUMERIC, make: () => Math.abs }),
  Neg: unaryOp({ types: SIGNED, make: () => (x) => -x }),
  Floor: fl(Math.floor),
  Ceil: fl(Math.ceil),
  Round: fl(roundHalfEven),
  Sign: unaryOp({ types: NUMERIC, make: () => Math.sign }),
  Sin: fl(Math.sin),
  Cos: fl(Math.cos),
  Tan: fl(Math.tan),
  Asin: fl(Math.asin),
  Acos: fl(Math.acos),
  Atan: fl(Math.atan),
  Sinh: fl(Math.sinh),
  Cosh: fl(Math.cosh),
  Asinh: fl(Math.asinh),
  Acosh: fl(Math.acosh),
  Atanh: fl(Math.atanh),
  Not: unaryOp({ types: ["bool"], make: () => (x) => x ? 0 : 1 }),
  IsNaN: unaryOp({ types: FLOAT, out: "bool", make: () => (x) => Number.isNaN(x) ? 1 : 0 }),
  IsInf,
  Shrink: unaryOp({
    types: NUMERIC,
    attrs: ["bias", "lambd"],
    make: (attrs) => {
      const bias = attrFloat(attrs, "bias", 0), lambd = attrFloat(attrs, "lambd", 0.5);
      return (x) => x < -lambd ? x + bias : x > lambd ? x - bias : 0;
    },
  }),
};
