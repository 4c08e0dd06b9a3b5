/**
 * Layout reference ops: Transpose, Concat, Split, DepthToSpace, SpaceToDepth.
 *
 * Split sizes come from the `split` attribute before opset 13, the optional `split`
 * input from 13, or `num_outputs` (opset 18, last chunk smaller when uneven); with
 * none of these the axis is split evenly over the node's outputs.
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrInt, attrInts, attrString } from "../../runtime/graph.ts";
import {
  allocData,
  fmtShape,
  size,
  strides,
  type Tensor,
  type TensorMeta,
} from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { axisTable, constData, type DataOf, gatherTables, runData } from "./gather_tables.ts";
import { ALL, checkDType, checkLength, intValues, normAxis, sameDType } from "./ref_util.ts";

function transposePerm(x: TensorMeta, attrs: Attrs, ctx: OpContext): number[] {
  const r = x.shape.length;
  const perm = attrInts(attrs, "perm", [...Array(r).keys()].reverse());
  const seen = new Set(perm);
  if (perm.length !== r || seen.size !== r || perm.some((p) => !(p >= 0 && p < r))) {
    shapeError(ctx, `perm [${perm}] is not a permutation of rank ${r}`);
  }
  return perm;
}

const Transpose: OpDef = {
  attrs: ["perm"],
  infer(ins, attrs, _c, ctx) {
    const x = need(ins, 0, ctx);
    checkDType(ctx, x, ALL, "data");
    return [{ dtype: x.dtype, shape: transposePerm(x, attrs, ctx).map((p) => x.shape[p]) }];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    checkLength(ctx, x, "data");
    const perm = transposePerm(x, attrs, ctx);
    const st = strides(x.shape);
    const shape = perm.map((p) => x.shape[p]);
    return [gatherTables(x, shape, perm.map((p, d) => axisTable(shape[d], (c) => c * st[p])), 0)];
  },
};

function concatCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  if (ins.length === 0) shapeError(ctx, "needs at least one input");
  const xs = ins.map((_, i) => need(ins, i, ctx));
  checkDType(ctx, xs[0], ALL, "input 0");
  const r = xs[0].shape.length;
  // Concat-1 (opsets 1..3) defaults axis to 1; from Concat-4 it is required.
  if (attrs.axis === undefined && ctx.opset >= 4) attrError(ctx, "attribute 'axis' is required");
  const axis = normAxis(ctx, attrInt(attrs, "axis", 1), r);
  const shape = [...xs[0].shape];
  shape[axis] = 0;
  xs.forEach((x, i) => {
    sameDType(ctx, xs[0], x, "input 0", `input ${i}`);
    if (x.shape.length !== r || x.shape.some((d, k) => k !== axis && d !== xs[0].shape[k])) {
      shapeError(
        ctx,
        `cannot concat ${xs.map((t) => fmtShape(t.shape)).join(", ")} on axis ${axis}`,
      );
    }
    shape[axis] += x.shape[axis];
  });
  return { axis, shape };
}

const Concat: OpDef = {
  attrs: ["axis"],
  infer(ins, attrs, _c, ctx) {
    return [{ dtype: need(ins, 0, ctx).dtype, shape: concatCheck(ins, attrs, ctx).shape }];
  },
  run(ins, attrs, ctx) {
    const { axis, shape } = concatCheck(ins, attrs, ctx);
    const xs = ins.map((_, i) => need(ins, i, ctx));
    xs.forEach((x, i) => checkLength(ctx, x, `input ${i}`));
    const out = allocData(xs[0].dtype, size(shape));
    const outer = size(shape.slice(0, axis));
    const inner = size(shape.slice(axis + 1));
    let at = 0;
    for (let o = 0; o < outer; o++) {
      for (const x of xs) {
        const len = x.shape[axis] * inner;
        out.set(x.data.subarray(o * len, (o + 1) * len), at);
        at += len;
      }
    }
    return [{ dtype: xs[0].dtype, shape, data: out }];
  },
};

/** Sizes of the Split outputs along the axis. */
function splitSizes(
  x: TensorMeta,
  n: number,
  attrs: Attrs,
  data: DataOf,
  ctx: OpContext,
): { axis: number; sizes: number[] } {
  const axis = normAxis(ctx, attrInt(attrs, "axis", 0), x.shape.length);
  const dim = x.shape[axis];
  const outs = ctx.node.outputs.length;
  let sizes: number[] | undefined;
  if (ctx.opset < 2 && n > 1) {
    // Split-1 takes the sizes as an attribute or as a second input.
    if (attrs.split !== undefined) attrError(ctx, "give split as an attribute or input, not both");
    sizes = intValues(ctx, data(1, "split"), "split");
  } else if (ctx.opset < 13) {
    if (n > 1) shapeError(ctx, "split is an attribute before opset 13, not an input");
    sizes = attrInts(attrs, "split");
  } else {
    if (attrs.split !== undefined) attrError(ctx, "split is an input since opset 13");
    if (n > 1) sizes = intValues(ctx, data(1, "split"), "split");
  }
  if (attrs.num_outputs !== undefined && ctx.opset < 18) {
    attrError(ctx, "attribute 'num_outputs' needs opset 18");
  }
  if (sizes) {
    if (attrs.num_outputs !== undefined) attrError(ctx, "give split or num_outputs, not both");
    if (
      sizes.length !== outs || sizes.some((s) => s < 0) || sizes.reduce((a, b) => a + b, 0) !== dim
    ) {
      shapeError(ctx, `split [${sizes}] does not split dim ${dim} into ${outs} outputs`);
    }
    return { axis, sizes };
  }
  const k = attrInt(attrs, "num_outputs", outs);
  if (k !== outs || k < 1) shapeError(ctx, `num_outputs ${k} but the node has ${outs} outputs`);
  if (ctx.opset < 18 || attrs.num_outputs === undefined) {
    if (dim % k !== 0) shapeError(ctx, `dim ${dim} does not split evenly into ${k} outputs`);
    return { axis, sizes: Array(k).fill(dim / k) };
  }
  const chunk = Math.ceil(dim / k);
  const last = dim - chunk * (k - 1);
  if (last < 0) shapeError(ctx, `dim ${dim} cannot be split into ${k} chunks of ${chunk}`);
  return { axis, sizes: [...Array(k - 1).fill(chunk), last] };
}

function given(ins: readonly unknown[]): number {
  let n = ins.length;
  while (n > 0 && ins[n - 1] === undefined) n--;
  return n;
}

const Split: OpDef = {
  attrs: ["axis", "split", "num_outputs"],
  infer(ins, attrs, consts, ctx) {
    const x = need(ins, 0, ctx);
    checkDType(ctx, x, ALL, "input");
    const { axis, sizes } = splitSizes(x, given(ins), attrs, constData(consts, ctx), ctx);
    return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => i === axis ? s : d) }));
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    checkLength(ctx, x, "input");
    const { axis, sizes } = splitSizes(x, given(ins), attrs, runData(ins, ctx), ctx);
    const outer = size(x.shape.slice(0, axis));
    const inner = size(x.shape.slice(axis + 1));
    const dim = x.shape[axis];
    let start = 0;
    return sizes.map((s): Tensor => {
      const shape = x.shape.map((d, i) => i === axis ? s : d);
      const out = allocData(x.dtype, size(shape));
      for (let o = 0; o < outer; o++) {
        const from = (o * dim + start) * inner;
        out.set(x.data.subarray(from, from + s * inner), o * s * inner);
      }
      start += s;
      return { dtype: x.dtype, shape, data: out };
    });
  },
};

function blockCheck(x: TensorMeta, attrs: Attrs, ctx: OpContext, toSpace: boolean) {
  checkDType(ctx, x, ALL, "input");
  if (x.shape.length !== 4) shapeError(ctx, `input must be 4-D, got ${fmtShape(x.shape)}`);
  const b = attrInt(attrs, "blocksize", 0);
  if (!(b >= 1)) attrError(ctx, `blocksize must be >= 1, got ${b}`);
  const mode = attrString(attrs, "mode", "DCR");
  if (mode !== "DCR" && mode !== "CRD") attrError(ctx, `mode must be DCR or CRD, got "${mode}"`);
  const [n, c, h, w] = x.shape;
  if (toSpace) {
    if (c % (b * b) !== 0) shapeError(ctx, `channels ${c} not divisible by blocksize² ${b * b}`);
    return { b, crd: mode === "CRD", shape: [n, c / (b * b), h * b, w * b] };
  }
  if (h % b !== 0 || w % b !== 0) shapeError(ctx, `H, W (${h}, ${w}) not divisible by ${b}`);
  return { b, crd: false, shape: [n, c * b * b, h / b, w / b] };
}

const DepthToSpace: OpDef = {
  attrs: ["blocksize", "mode"],
  infer(ins, attrs, _c, ctx) {
    const x = need(ins, 0, ctx);
    return [{ dtype: x.dtype, shape: blockCheck(x, attrs, ctx, true).shape }];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    checkLength(ctx, x, "input");
    const { b, crd, shape } = blockCheck(x, attrs, ctx, true);
    const [sn, sc, sh, sw] = strides(x.shape);
    const c2 = shape[1];
    // DCR: in channel = (i*b + j)*C' + c; CRD: in channel = c*b*b + i*b + j
    const tables = [
      axisTable(shape[0], (n) => n * sn),
      axisTable(c2, (c) => (crd ? c * b * b : c) * sc),
      axisTable(shape[2], (y) => Math.floor(y / b) * sh + (y % b) * (crd ? b : b * c2) * sc),
      axisTable(shape[3], (x) => Math.floor(x / b) * sw + (x % b) * (crd ? 1 : c2) * sc),
    ];
    return [gatherTables(x, shape, tables, 0)];
  },
};

const SpaceToDepth: OpDef = {
  attrs: ["blocksize"],
  infer(ins, attrs, _c, ctx) {
    const x = need(ins, 0, ctx);
    return [{ dtype: x.dtype, shape: blockCheck(x, attrs, ctx, false).shape }];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    checkLength(ctx, x, "input");
    const { b, shape } = blockCheck(x, attrs, ctx, false);
    const [sn, sc, sh, sw] = strides(x.shape);
    const c = x.shape[1];
    // out channel = (i*b + j)*C + c
    const tables = [
      axisTable(shape[0], (n) => n * sn),
      axisTable(shape[1], (oc) => {
        const i = Math.floor(oc / (b * c));
        const j = Math.floor(oc / c) % b;
        return (oc % c) * sc + i * sh + j * sw;
      }),
      axisTable(shape[2], (h) => h * b * sh),
      axisTable(shape[3], (w) => w * b * sw),
    ];
    return [gatherTables(x, shape, tables, 0)];
  },
};

/** Transpose, Concat, Split, DepthToSpace and SpaceToDepth, by ONNX op type. */
export const LAYOUT_OPS: Record<string, OpDef> = {
  Transpose,
  Concat,
  Split,
  DepthToSpace,
  SpaceToDepth,
};
