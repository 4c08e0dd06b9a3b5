/**
 * MatMul (ONNX, opsets 1..13) with numpy semantics, float32/float64: a 1-D A is
 * promoted to `[1, K]` and a 1-D B to `[K, 1]` (the added dim is removed from the
 * result); leading batch dims broadcast multidirectionally. Accumulates in float64
 * via {@link gemmAccF64}, rounding once.
 */
import { fmtShape, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { gemmAccF64 } from "./gemm_f64.ts";
import {
  type FloatArray,
  floatData,
  type FloatDType,
  floatDType,
  newFloat,
  prod,
  sameDType,
  toF64,
} from "./nn_util.ts";

interface MatMulGeom {
  dtype: FloatDType;
  batch: number[];
  /** Batch dims of A and B, right-aligned to `batch` (padded with 1s). */
  aBatch: number[];
  bBatch: number[];
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

function matmulGeom(ctx: OpContext, a: TensorMeta, b: TensorMeta): MatMulGeom {
  const dtype = floatDType(ctx, a, "A");
  sameDType(ctx, b, dtype, "B");
  if (a.shape.length === 0 || b.shape.length === 0) {
    shapeError(ctx, `MatMul needs rank >= 1, got A ${fmtShape(a.shape)}, B ${fmtShape(b.shape)}`);
  }
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const m = as[as.length - 2], k = as[as.length - 1];
  const k2 = bs[bs.length - 2], n = bs[bs.length - 1];
  if (k !== k2) {
    shapeError(ctx, `inner dims differ: A ${fmtShape(a.shape)}, B ${fmtShape(b.shape)}`);
  }
  const ab = as.slice(0, -2), bb = bs.slice(0, -2);
  const r = Math.max(ab.length, bb.length);
  const aBatch = [...new Array<number>(r - ab.length).fill(1), ...ab];
  const bBatch = [...new Array<number>(r - bb.length).fill(1), ...bb];
  const batch = aBatch.map((d, i) => {
    const e = bBatch[i];
    if (d !== e && d !== 1 && e !== 1) {
      shapeError(
        ctx,
        `batch dims do not broadcast: A ${fmtShape(a.shape)}, B ${fmtShape(b.shape)}`,
      );
    }
    return d === 1 ? e : d;
  });
  const outShape = [...batch];
  if (a.shape.length > 1) outShape.push(m);
  if (b.shape.length > 1) outShape.push(n);
  return { dtype, batch, aBatch, bBatch, m, k, n, outShape };
}

/** Element strides of each batch axis in a tensor with batch dims `dims` (0 where broadcast). */
function batchStrides(dims: number[], matSize: number): number[] {
  const st = new Array<number>(dims.length);
  let acc = matSize;
  for (let i = dims.length - 1; i >= 0; i--) {
    st[i] = dims[i] === 1 ? 0 : acc;
    acc *= dims[i];
  }
  return st;
}

function runMatMul(ctx: OpContext, a: Tensor, b: Tensor): Tensor {
  const g = matmulGeom(ctx, a, b);
  const ad = toF64(floatData(ctx, a, "A")), bd = toF64(floatData(ctx, b, "B"));
  const { m, k, n, batch } = g;
  const nb = prod(batch);
  const aSt = batchStrides(g.aBatch, m * k), bSt = batchStrides(g.bBatch, k * n);
  const acc = new Float64Array(nb * m * n);
  const idx = new Array<number>(batch.length).fill(0);
  let aOff = 0, bOff = 0;
  for (let t = 0; t < nb; t++) {
    gemmAccF64(m, n, k, ad, aOff, k, bd, bOff, n, acc, t * m * n, n);
    for (let ax = batch.length - 1; ax >= 0; ax--) {
      idx[ax]++;
      aOff += aSt[ax];
      bOff += bSt[ax];
      if (idx[ax] < batch[ax]) break;
      aOff -= aSt[ax] * idx[ax];
      bOff -= bSt[ax] * idx[ax];
      idx[ax] = 0;
    }
  }
  const y = newFloat(g.dtype, g.outShape);
  (y.data as FloatArray).set(acc);
  return y;
}

/** MatMul: numpy-style (batched, broadcasting) matrix product. */
export const MatMul: OpDef = {
  attrs: [],
  infer(ins, _attrs, _consts, ctx) {
    const g = matmulGeom(ctx, need(ins, 0, ctx), need(ins, 1, ctx));
    return [{ dtype: g.dtype, shape: g.outShape }];
  },
  run(ins, _attrs, ctx) {
    return [runMatMul(ctx, need(ins, 0, ctx), need(ins, 1, ctx))];
  },
};
