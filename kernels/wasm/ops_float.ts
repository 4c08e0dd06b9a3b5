/**
 * Float islands and layout ops on wasm kernels: Softmax and LayerNormalization over the
 * last axis, Erf, Add/Sub/Mul/Div (scalar, same-shape or last-axis broadcast), Transpose
 * (8-bit and 32-bit elements), and QMatMul. Anything else returns undefined (the
 * reference op runs).
 *
 * Accuracy: Add/Sub/Mul/Div are IEEE f32 operations, i.e. bit-identical to the reference
 * (f64 arithmetic on f32 inputs rounded once to f32). Softmax, LayerNormalization and Erf
 * use f32 SIMD polynomials: within 1e-5 relative (+1e-6 absolute) of the reference
 * (tests/wasm_float_test.ts). Compile with `floatIslands: "ref"` for reference bits.
 * @module
 */
import { attrFloat, attrInt, attrInts } from "../../runtime/graph.ts";
import { EdgeqError } from "../../runtime/errors.ts";
import { size } from "../../runtime/tensor.ts";
import { type QDType, readClamp, readMultipliers, readQDType, readZp } from "../ref/quant/qutil.ts";
import {
  type CompileCtx,
  ELEM_GRAIN,
  elemBytes,
  grainFor,
  roundUp,
  signedOf,
  type Step,
} from "./step.ts";
import { EP, EP_WORDS, periodOf } from "./ops_int8.ts";
import { fusedCounts } from "./fuse.ts";

/** Words of the batched QMatMul record (as/matmul.ts MM_WORDS). */
const MM_WORDS = 24;

const BIN_OPS: Record<string, number> = { Add: 0, Sub: 1, Mul: 2, Div: 3 };

function input(c: CompileCtx, name: string): (env: { addr(n: string): number }) => number {
  const t = c.constant(name);
  if (t) {
    const p = c.arena.put(t.data);
    return () => p;
  }
  return (env) => env.addr(name);
}

/**
 * A node compiler for the float islands (undefined: no wasm kernel for it).
 *
 * @example
 * ```ts
 * const step = compileFloat(ctx); // Softmax, LayerNormalization, Erf, ...
 * ```
 */
export function compileFloat(c: CompileCtx): Step | undefined {
  const { node } = c;
  const y = node.outputs[0];
  if (!y) return undefined;
  const ym = c.meta(y);
  const n = size(ym.shape);
  if (node.op in BIN_OPS) {
    const [A, B] = node.inputs;
    const am = c.meta(A), bm = c.meta(B);
    if (am.dtype !== "float32" || bm.dtype !== "float32" || ym.dtype !== "float32") {
      return undefined;
    }
    const pa = periodOf(am.shape, ym.shape), pb = periodOf(bm.shape, ym.shape);
    if (pa < 0 || pb < 0) return undefined;
    const op = BIN_OPS[node.op], fa = input(c, A), fb = input(c, B);
    return (env) => env.par("fbinary", [op, fa(env), pa, fb(env), pb, env.addr(y)], n, ELEM_GRAIN);
  }
  if (node.op === "Clip" && ym.dtype === "float32") {
    let lo = -Infinity, hi = Infinity;
    if (c.op.opset < 11) {
      lo = attrFloat(node.attrs, "min", lo);
      hi = attrFloat(node.attrs, "max", hi);
    } else {
      for (
        const [i, set] of [[1, (v: number) => (lo = v)], [2, (v: number) => (hi = v)]] as const
      ) {
        const name = node.inputs[i];
        if (!name) continue;
        const t = c.constant(name);
        if (!t || t.data.length !== 1) return undefined;
        set(Number(t.data[0]));
      }
    }
    const x = node.inputs[0];
    const flo = Math.fround(lo), fhi = Math.fround(hi);
    return (env) => env.par("fclip", [env.addr(x), env.addr(y), flo, fhi], n, ELEM_GRAIN);
  }
  if (node.op === "Erf" && ym.dtype === "float32") {
    const x = node.inputs[0];
    return (env) => env.par("erf", [env.addr(x), env.addr(y)], n, ELEM_GRAIN);
  }
  if (node.op === "Softmax" && ym.dtype === "float32") {
    const r = ym.shape.length;
    const axis = attrInt(node.attrs, "axis", c.op.opset >= 13 ? -1 : 1);
    if ((axis + r) % r !== r - 1 && !(c.op.opset < 13 && axis === r - 1)) return undefined;
    if (c.op.opset < 13 && (axis + r) % r !== r - 1) return undefined;
    const L = ym.shape[r - 1], x = node.inputs[0];
    return (env) => env.par("softmax", [env.addr(x), env.addr(y), L], n / L, grainFor(L * 8));
  }
  if (node.op === "LayerNormalization" && ym.dtype === "float32") {
    const r = ym.shape.length;
    const axis = attrInt(node.attrs, "axis", -1);
    if (
      (axis + r) % r !== r - 1 || node.outputs.length > 1 && node.outputs.slice(1).some(Boolean)
    ) {
      return undefined;
    }
    const L = ym.shape[r - 1];
    const [x, G, B] = node.inputs;
    const g = c.constant(G), b = B ? c.constant(B) : undefined;
    if (!g || size(g.shape) !== L || (B && (!b || size(b.shape) !== L))) return undefined;
    const gp = c.arena.put(g.data), bp = b ? c.arena.put(b.data) : 0;
    const eps = Math.fround(attrFloat(node.attrs, "epsilon", 1e-5));
    return (env) =>
      env.par("layernorm", [env.addr(x), gp, bp, env.addr(y), L, eps], n / L, grainFor(L * 6));
  }
  if (node.op === "Gather") return compileGather(c);
  if (node.op === "Pad") return compilePad(c);
  if (node.op === "Transpose") {
    const x = node.inputs[0];
    const xm = c.meta(x);
    const es = elemBytes(xm.dtype);
    if ((es !== 1 && es !== 4) || xm.shape.length > 6 || c.constant(x)) return undefined;
    const rank = xm.shape.length;
    const perm = attrInts(node.attrs, "perm") ?? xm.shape.map((_, i) => rank - 1 - i);
    const inStr = new Array<number>(rank);
    let acc = 1;
    for (let i = rank - 1; i >= 0; i--) {
      inStr[i] = acc;
      acc *= xm.shape[i];
    }
    const rec = new Int32Array(14);
    rec[0] = rank;
    rec[1] = es;
    for (let i = 0; i < rank; i++) {
      rec[2 + i] = ym.shape[i];
      rec[8 + i] = inStr[perm[i]];
    }
    const rp = c.arena.i32(rec);
    return (env) => env.par("transpose", [env.addr(x), env.addr(y), rp], n, ELEM_GRAIN);
  }
  return undefined;
}

/**
 * Pad (opset >= 11, mode "constant", constant non-negative pads, no axes input, a constant
 * or absent fill value): the output is filled with the value, then every input row (last
 * axis) is copied into place; contiguous rows are merged into one copy. Anything else
 * returns undefined (the reference op runs).
 *
 * @example
 * ```ts
 * const step = compilePad(ctx); // a ViT's class-token slot: [1, 196, 192] -> [1, 197, 192]
 * ```
 */
export function compilePad(c: CompileCtx): Step | undefined {
  const { node } = c;
  const [x, P, V, axes] = node.inputs, y = node.outputs[0];
  if (c.op.opset < 11 || !x || !P || axes || !y || c.constant(x)) return undefined;
  if (String(node.attrs.mode ?? "constant") !== "constant") return undefined;
  const pt = c.constant(P), vt = V ? c.constant(V) : undefined;
  if (!pt || (V && (!vt || vt.data.length !== 1))) return undefined;
  const xm = c.meta(x), ym = c.meta(y);
  const r = xm.shape.length, es = elemBytes(xm.dtype);
  const pads = Array.from(pt.data as ArrayLike<number>, Number);
  if (r < 1 || pads.length !== 2 * r || pads.some((p) => p < 0)) return undefined;
  if (!["float32", "int8", "uint8"].includes(xm.dtype)) return undefined;
  // the fill pattern as bytes (one element)
  const value = vt ? Number(vt.data[0]) : 0;
  const pat = new Uint8Array(es);
  if (xm.dtype === "float32") new DataView(pat.buffer).setFloat32(0, value, true);
  else pat[0] = value & 255;
  const L = xm.shape[r - 1] * es;
  const outStr = new Array<number>(r);
  let acc = es;
  for (let i = r - 1; i >= 0; i--) {
    outStr[i] = acc;
    acc *= ym.shape[i];
  }
  const runs: number[] = []; // [src, dst, bytes] in bytes
  const rows = L > 0 ? size(xm.shape.slice(0, -1)) : 0;
  const idx = new Array<number>(r - 1).fill(0);
  for (let row = 0; row < rows; row++) {
    let dst = pads[r - 1] * es;
    for (let i = 0; i < r - 1; i++) dst += (idx[i] + pads[i]) * outStr[i];
    const n = runs.length;
    if (n && runs[n - 3] + runs[n - 1] === row * L && runs[n - 2] + runs[n - 1] === dst) {
      runs[n - 1] += L;
    } else runs.push(row * L, dst, L);
    for (let i = r - 2; i >= 0; i--) {
      if (++idx[i] < xm.shape[i]) break;
      idx[i] = 0;
    }
  }
  const total = size(ym.shape) * es;
  const zero = pat.every((b) => b === 0);
  return (env) => {
    const mem = env.u8();
    const a = env.addr(x), b = env.addr(y);
    if (zero || es === 1) mem.fill(pat[0], b, b + total);
    else {
      mem.set(pat, b);
      for (let n = es; n < total; n *= 2) mem.copyWithin(b + n, b, b + Math.min(n, total - n));
    }
    for (let i = 0; i < runs.length; i += 3) {
      mem.copyWithin(b + runs[i + 1], a + runs[i], a + runs[i] + runs[i + 2]);
    }
  };
}

/**
 * Gather with constant indices (e.g. a ViT's class token, `x[:, 0]`): one byte copy per
 * (outer index, gathered index) pair inside the wasm memory. Indices out of range are an
 * EdgeqError at compile time; non-constant indices return undefined (the ref op runs).
 *
 * @example
 * ```ts
 * const step = compileGather(ctx); // Gather(x [1, 17, 64], 0, axis 1) -> [1, 64]
 * ```
 */
export function compileGather(c: CompileCtx): Step | undefined {
  const { node } = c;
  const [x, I] = node.inputs, y = node.outputs[0];
  const idx = I ? c.constant(I) : undefined;
  if (!x || !idx || !y || c.constant(x)) return undefined;
  const xm = c.meta(x);
  const r = xm.shape.length;
  const axis0 = attrInt(node.attrs, "axis", 0);
  const axis = axis0 < 0 ? axis0 + r : axis0;
  if (axis < 0 || axis >= r) return undefined;
  const dim = xm.shape[axis];
  const rows = Array.from(idx.data as ArrayLike<number>, (v) => {
    const i = Number(v);
    if (!Number.isInteger(i) || i < -dim || i >= dim) {
      throw new EdgeqError("E_SHAPE", `Gather index ${i} out of range for a dimension of ${dim}`, {
        node: node.name,
        op: node.op,
      });
    }
    return i < 0 ? i + dim : i;
  });
  const outer = size(xm.shape.slice(0, axis));
  const inner = size(xm.shape.slice(axis + 1)) * elemBytes(xm.dtype);
  const m = rows.length;
  return (env) => {
    const mem = env.u8();
    const a = env.addr(x), b = env.addr(y);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        const from = a + (o * dim + rows[j]) * inner;
        mem.copyWithin(b + (o * m + j) * inner, from, from + inner);
      }
    }
  };
}

/**
 * The stride of a flattened batch (dims of size 1 dropped; 0 when none is left), or
 * undefined when the dims do not merge into one stride.
 */
function batchStride(shape: number[], strides: number[]): number | undefined {
  const d = shape.map((n, i) => [n, strides[i]]).filter(([n]) => n > 1);
  for (let i = 0; i + 1 < d.length; i++) if (d[i][1] !== d[i + 1][1] * d[i + 1][0]) return;
  return d.length ? d[d.length - 1][1] : 0;
}

/**
 * A QMatMul operand (0 = A, 1 = B, 2 = Y) in a Transpose's memory (fuse.ts), when its
 * strides suit the batched kernel: [value, slice stride, row stride, transposed B (1)].
 * Records the fold (the Transpose's step then does nothing).
 */
function foldedMatrix(
  c: CompileCtx,
  slot: number,
  b: boolean,
): [string, number, number, number] | undefined {
  const f = c.transposes?.[slot];
  if (!f) return undefined;
  const shape = c.meta(slot === 2 ? c.node.outputs[0] : c.node.inputs[slot]).shape;
  const st = f.strides, r = shape.length;
  const bs = r >= 2 && st.length === r
    ? batchStride(shape.slice(0, -2), st.slice(0, -2))
    : undefined;
  if (bs === undefined) return undefined;
  const out: [string, number, number, number] | undefined = st[r - 1] === 1
    ? [f.src, bs, st[r - 2], 0]
    : b && st[r - 2] === 1
    ? [f.src, bs, st[r - 1], 1]
    : undefined;
  if (out) {
    c.fold!(f.node.name);
    fusedCounts.transpose++;
  }
  return out;
}

/**
 * QMatMul with equal batch dims (or a shared 2-D B): per slice prep + GEMM.
 *
 * @example
 * ```ts
 * const step = compileQMatMul(ctx);
 * ```
 */
export function compileQMatMul(c: CompileCtx): Step | undefined {
  const { node } = c;
  const a = node.attrs;
  const [A, B] = node.inputs, y = node.outputs[0];
  const am = c.meta(A), bm = c.meta(B), ym = c.meta(y);
  const [M, K] = am.shape.slice(-2), N = bm.shape[bm.shape.length - 1];
  const nb = size(ym.shape.slice(0, -2));
  const na = size(am.shape.slice(0, -2)), nbB = size(bm.shape.slice(0, -2));
  if (na !== nb || (nbB !== nb && nbB !== 1)) return undefined;
  if (c.constant(A) || c.constant(B)) return undefined;
  const adt = am.dtype as QDType, bdt = bm.dtype as QDType;
  const ydt = readQDType(c.op, a, adt);
  const { mult, shift } = readMultipliers(c.op, a, "mult", "shift", 1);
  const aZp = readZp(c.op, a, "a_zp", adt), bZp = readZp(c.op, a, "b_zp", bdt);
  const [qmin, qmax] = readClamp(c.op, a, ydt);
  const azpU = adt === "int8" ? aZp + 128 : aZp;
  const bzp2 = bdt === "int8" ? bZp : bZp - 128;
  const Kp = roundUp(K, 8), rb = 2 * Kp;
  const as = signedOf(adt), bs = signedOf(bdt);
  const yZp = readZp(c.op, a, "y_zp", ydt);
  if (M >= 8) {
    // All slices in two parallel calls: encode A rows (i16) and B' in 4-column blocks
    // (the k2 layout of as/matmul.ts), then 4 rows × 8 columns tiles without horizontal sums.
    const bSlices = nbB === 1 ? 1 : nb;
    // Transposes read / written in place (fuse.ts): [name in memory, slice stride, row
    // stride (the stride of the other matrix axis), B: unit stride along K]
    const foldA = foldedMatrix(c, 0, false);
    const foldB = nbB === nb ? foldedMatrix(c, 1, true) : undefined;
    const foldY = foldedMatrix(c, 2, false);
    const [aName, sA, lda] = foldA ?? [A, M * K, K, 0];
    const [bName, sB, ldb, bt] = foldB ?? [B, K * N, N, 0];
    const [yName, sY, ldy] = foldY ?? [y, M * N, N, 0];
    const N4 = roundUp(N, 4);
    const ccol = c.arena.alloc(bSlices * N4 * 4), crow = c.arena.alloc(nb * M * 4);
    const eps = c.arena.i32(new Int32Array(nb * EP_WORDS));
    const ev0 = new Int32Array(c.arena.buffer, eps, nb * EP_WORDS);
    for (let t = 0; t < nb; t++) {
      ev0.set(
        [0, ccol + (bSlices === 1 ? 0 : t) * N * 4, crow + t * M * 4, mult[0], shift[0]],
        t * EP_WORDS,
      );
      ev0.set([yZp, qmin, qmax, 0, N, 1], t * EP_WORDS + EP.yzp);
      ev0[t * EP_WORDS + EP.scalar] = 1; // scalar multiplier
    }
    const aBytes = roundUp(nb * M * rb, 16);
    c.scratch(aBytes + bSlices * N4 * rb);
    const rec = c.arena.i32(new Int32Array(MM_WORDS));
    const items = nb * M + bSlices * (N4 / 4);
    const fixed = new Int32Array(MM_WORDS);
    fixed.set([0, as, 0, bs, M, K, N, Kp, 0]);
    fixed.set([0, ccol, crow, azpU, bzp2, nb, bSlices, eps, N4], 9);
    fixed.set([sA, lda, sB, ldb, bt, ldy], 18);
    return (env) => {
      const v = env.i32();
      v.set(fixed, rec >> 2); // the run-invariant words, then the addresses
      v[(rec >> 2) + 0] = env.addr(aName);
      v[(rec >> 2) + 2] = env.addr(bName);
      v[(rec >> 2) + 8] = env.scratch;
      v[(rec >> 2) + 9] = env.scratch + aBytes;
      const out = env.addr(yName);
      for (let t = 0; t < nb; t++) v[(eps >> 2) + t * EP_WORDS + EP.out] = out + t * sY;
      env.par("qmatmul_prep4_par", [rec], items, grainFor(4 * K));
      env.par("qmatmul_rows4", [rec], nb * M, grainFor(N * Kp));
    };
  }
  const ep = c.arena.i32(new Int32Array(EP_WORDS));
  const ccol = c.arena.alloc(N * 4), crow = c.arena.alloc(M * 4);
  const e = new Int32Array(c.arena.buffer, ep, EP_WORDS);
  e[EP.ccol] = ccol;
  e[EP.crow] = crow;
  e[EP.mult] = mult[0];
  e[EP.shift] = shift[0];
  e[EP.yzp] = yZp;
  e[EP.qmin] = qmin;
  e[EP.qmax] = qmax;
  e[EP.ors] = N;
  e[EP.ocs] = 1;
  e[EP.scalar] = 1; // scalar multiplier
  const aBytes = roundUp(M * rb, 16);
  c.scratch(aBytes + N * rb);
  return (env) => {
    const aPk = env.scratch, bPk = env.scratch + aBytes;
    const v = env.i32(), out = (ep >> 2) + EP.out;
    for (let t = 0; t < nb; t++) {
      env.k.qmatmul_prep(
        env.addr(A) + t * M * K,
        as,
        env.addr(B) + (nbB === 1 ? 0 : t) * K * N,
        bs,
        M,
        K,
        N,
        Kp,
        aPk,
        bPk,
        ccol,
        crow,
        azpU,
        bzp2,
      );
      v[out] = env.addr(y) + t * M * N;
      if (M >= 8) env.par("gemm_rows", [aPk, rb, bPk, rb, Kp / 8, ep, 0, N], M, grainFor(N * Kp));
      else env.par("gemm_cols", [aPk, rb, bPk, rb, Kp / 8, ep, M], N, grainFor(M * Kp));
    }
  };
}
