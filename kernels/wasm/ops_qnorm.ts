/**
 * The integer islands of a transformer on wasm kernels (as/qnorm.ts): QLut, QSoftmax and
 * QLayerNorm, bit-identical to kernels/ref/quant/{qlut,qsoftmax,qlayernorm}.ts. The
 * attributes are read and checked by the reference readers (EdgeqError naming the node)
 * and stored once in the weight arena; rows are split over the threads when a part gets
 * enough work ({@link grainFor}), tiny tensors run on the calling thread.
 * @module
 */
import { size } from "../../runtime/tensor.ts";
import type { QDType } from "../ref/quant/qutil.ts";
import { readTable } from "../ref/quant/qlut.ts";
import { readSoftmaxAttrs } from "../ref/quant/qsoftmax.ts";
import { layerNormShift, readLayerNorm } from "../ref/quant/qlayernorm.ts";
import { qDType, readQDType } from "../ref/quant/qutil.ts";
import { shapeError } from "../ref/op.ts";
import { type CompileCtx, ELEM_GRAIN, grainFor, roundUp, type Step } from "./step.ts";

/** Header words of the QLayerNorm record before the per-channel arrays (as/qnorm.ts LN_HEAD). */
const LN_HEAD = 8;

/**
 * A record offset the kernels export as a constant global (as/qnorm.ts SM_*), read from
 * the instance so that the record and the kernel cannot disagree.
 */
function kernelConst(c: CompileCtx, name: string): number {
  const g = (c.k as unknown as Record<string, unknown>)[name];
  if (!(g instanceof WebAssembly.Global)) throw new Error(`kernel module exports no ${name}`);
  return Number(g.value);
}

/** 0x80 for int8 codes (u = code + 128), 0 for uint8. */
function flipOf(dtype: string): number {
  return dtype === "int8" ? 0x80 : 0;
}

/**
 * QLut: `y = table[x − dtypeMin]`, 16 bytes per step (swizzle over 16 sub-tables).
 *
 * @example
 * ```ts
 * const step = compileQLut(ctx); // edgeq:QLut
 * ```
 */
export function compileQLut(c: CompileCtx): Step {
  const { node } = c;
  const x = node.inputs[0], y = node.outputs[0];
  const xm = c.meta(x);
  qDType(c.op, xm, "X");
  const dt = readQDType(c.op, node.attrs, "uint8") as QDType;
  const t = readTable(c.op, node.attrs, dt);
  const tb = new Uint8Array(256 + 16).fill(16); // the table, then 16 bytes of 16 (as/qnorm.ts)
  tb.set(Uint8Array.from(t, (v) => v & 255));
  const tp = c.arena.put(tb);
  const flip = flipOf(xm.dtype), n = size(xm.shape);
  return (env) => env.par("qlut", [env.addr(x), flip, tp, env.addr(y)], n, ELEM_GRAIN);
}

/** Rows and row length of a last-axis op's input. */
function rowsOf(c: CompileCtx, name: string): { rows: number; n: number } {
  const s = c.meta(name).shape;
  if (s.length < 1) shapeError(c.op, `${c.node.op} needs an input of rank >= 1`);
  const n = s[s.length - 1];
  return { rows: n > 0 ? size(s) / n : 0, n };
}

/**
 * QSoftmax over the last axis (exact u32 division per element).
 *
 * @example
 * ```ts
 * const step = compileQSoftmax(ctx); // edgeq:QSoftmax
 * ```
 */
export function compileQSoftmax(c: CompileCtx): Step {
  const { node } = c;
  const x = node.inputs[0], y = node.outputs[0];
  const xm = c.meta(x);
  qDType(c.op, xm, "X");
  const { table, r } = readSoftmaxAttrs(c.op, node.attrs);
  const { rows, n } = rowsOf(c, x);
  // the table, the kernel's splatted constants, the u16 byte planes of min(table, 65535),
  // 16 in every byte and the planes' flag (as/qnorm.ts qsoftmax, SM_*)
  const [SM_LO, SM_16, SM_OK, SM_BYTES] = ["SM_LO", "SM_16", "SM_OK", "SM_BYTES"].map((n) =>
    kernelConst(c, n)
  );
  const rec = new ArrayBuffer(SM_BYTES);
  new Int32Array(rec, 0, 256).set(table);
  new Float32Array(rec, 1024, 8).set([256, 256, 256, 256, 2 ** 23, 2 ** 23, 2 ** 23, 2 ** 23]);
  new Int32Array(rec, 1056, 4).fill(255);
  new Float64Array(rec, 1072, 6).set([2 ** -40, 2 ** -40, 255, 255, 2 ** 52, 2 ** 52]);
  const planes = new Uint8Array(rec, SM_LO, 512);
  for (let d = 0; d < 256; d++) {
    const e = Math.min(table[d], 65535);
    planes[d] = e & 255;
    planes[256 + d] = e >> 8;
  }
  new Uint8Array(rec, SM_16, 16).fill(16);
  // the planes hold every entry but the first exactly (an entry 0 of 65536 gets its 1 back
  // in the kernel); else the kernel reads the i32 table
  new Int32Array(rec, SM_OK, 1)[0] = table.every((e, d) => d === 0 || e <= 65535) ? 1 : 0;
  const tp = c.arena.put(new Uint8Array(rec));
  const flip = flipOf(xm.dtype);
  c.scratch(c.threads * roundUp(n * 4, 16)); // one i32 row of e per thread
  return (env) =>
    env.par(
      "qsoftmax",
      [env.addr(x), flip, n, tp, r, env.addr(y), env.scratch],
      rows,
      grainFor(n * 12),
    );
}

/**
 * QLayerNorm over the last axis (per-channel multipliers, signs and biases in one record).
 *
 * @example
 * ```ts
 * const step = compileQLayerNorm(ctx); // edgeq:QLayerNorm
 * ```
 */
export function compileQLayerNorm(c: CompileCtx): Step {
  const { node } = c;
  const x = node.inputs[0], y = node.outputs[0];
  const xm = c.meta(x);
  const p = readLayerNorm(c.op, xm, node.attrs);
  const { rows, n } = rowsOf(c, x);
  // The SIMD path (every shift <= 0) reads the f64 block of as/qnorm.ts (4 constants, then
  // 4 channel pairs of m', sign mask, P, K2 per 4 channels) from an even word offset.
  const simd = p.shift.every((v) => v <= 0);
  const fo = roundUp(LN_HEAD + 4 * n, 2), n4 = n & ~3;
  const buf = new ArrayBuffer(4 * fo + (simd ? 64 + 32 * n4 : 0));
  const rec = new Int32Array(buf, 0, fo);
  rec.set([p.eps, layerNormShift(n), p.yZp, p.qmin, p.qmax, flipOf(xm.dtype), n, simd ? fo : 0]);
  rec.set(p.mult, LN_HEAD);
  rec.set(p.shift, LN_HEAD + n);
  rec.set(p.sign, LN_HEAD + 2 * n);
  rec.set(p.bias, LN_HEAD + 3 * n);
  if (simd) {
    new Float64Array(buf, 4 * fo, 8).set([
      -0,
      -0,
      0.5 + 2 ** -19,
      0.5 + 2 ** -19,
      0.5,
      0.5,
      1.5 * 2 ** 52,
      1.5 * 2 ** 52,
    ]);
    const f = new Float64Array(buf, 4 * fo + 64, 4 * n4);
    for (let j = 0; j < n4; j++) {
      const at = (j >> 2) * 16 + (j & 3); // + 0, 4, 8, 12: m', sign mask, P, K2
      const r = Math.min(-p.shift[j], 24);
      const cc = Math.max(-(2 ** 23), Math.min(2 ** 23, p.bias[j] + 8 + 16 * p.yZp));
      f[at] = p.sign[j] * p.mult[j] * 2 ** -31;
      f[at + 4] = r >= 1 ? -0 : 0;
      f[at + 8] = 2 ** -(r + 4);
      f[at + 12] = cc / 16 + 2 ** -(r + 5) - 0.5 + (r >= 1 ? 1 / 32 : 0) + (p.qmin < 0 ? 128 : 0);
    }
  }
  const rp = c.arena.put(new Uint8Array(buf));
  return (env) => env.par("qlayernorm", [env.addr(x), env.addr(y), rp], rows, grainFor(n * 24));
}
