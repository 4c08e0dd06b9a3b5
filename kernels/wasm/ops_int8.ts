/**
 * Node compilers for the integer ops of domain "edgeq" on the wasm kernels: QConv,
 * QGemm, QAdd, QRelu, the pools and the float boundary. Attribute reading and checking
 * reuse the reference's readers, so errors name the node the same way.
 * @module
 */
import { attrInts } from "../../runtime/graph.ts";
import { size, type Tensor } from "../../runtime/tensor.ts";
import { attrFlag } from "../ref/nn_util.ts";
import { lift2d, slidingWindow } from "../ref/nn_window.ts";
import { readGroup } from "../ref/conv.ts";
import {
  ADD_LEFT_SHIFT,
  multiplyByQuantizedMultiplier,
  requantize,
  sat32,
} from "../ref/quant/requant.ts";
import {
  type QDType,
  qRange,
  readClamp,
  readMultipliers,
  readQDType,
  readWeight,
  readZp,
} from "../ref/quant/qutil.ts";
import {
  type CompileCtx,
  ELEM_GRAIN,
  elemBytes,
  grainFor,
  roundUp,
  type RunEnv,
  signedOf,
  type Step,
} from "./step.ts";
import { type LayoutName, pack } from "../../runtime/format/layouts.ts";
import { chunkCount } from "./threads.ts";

/** Field offsets of the epilogue record (as/epilogue.ts), in i32 words. */
export const EP = {
  bias: 0,
  ccol: 1,
  crow: 2,
  mult: 3,
  shift: 4,
  yzp: 5,
  qmin: 6,
  qmax: 7,
  out: 8,
  ors: 9,
  ocs: 10,
  res: 11,
  rsigned: 12,
  czp: 13,
  rzp: 14,
  cm: 15,
  cs: 16,
  rm: 17,
  rs: 18,
  ym: 19,
  ys: 20,
  dlo: 21,
  dhi: 22,
  scalar: 23,
  ptab: 24,
  ftab: 25,
} as const;
/** Words of an epilogue record (as/epilogue.ts EP_WORDS). */
export const EP_WORDS = 26;

/** Conv geometry record (as/conv.ts), i32 words. */
const CG = {
  h: 0,
  w: 1,
  rb: 2,
  kh: 3,
  kw: 4,
  sh: 5,
  sw: 6,
  dh: 7,
  dw: 8,
  ph: 9,
  pw: 10,
  ow: 11,
  m: 12,
  scratch: 13,
  sstride: 14,
  oh: 15,
  dense: 16,
  kp: 17,
  xd: 18,
} as const;

/** im2row chunk (as/conv.ts PT). */
const PT = 32;

function words(c: CompileCtx, n: number): number {
  return c.arena.i32(new Int32Array(n));
}

function setWords(c: CompileCtx, p: number, fields: Record<number, number>) {
  const v = new Int32Array(c.arena.buffer, p, EP_WORDS);
  for (const [k, x] of Object.entries(fields)) v[Number(k)] = x;
}

/** The requantization part of an epilogue record shared by QConv/QGemm. */
function requantFields(
  c: CompileCtx,
  n: number,
  ydt: QDType,
): Record<number, number> {
  const { mult, shift } = readMultipliers(c.op, c.node.attrs, "mult", "shift", n);
  const [qmin, qmax] = readClamp(c.op, c.node.attrs, ydt);
  return {
    [EP.mult]: c.arena.i32(mult),
    [EP.shift]: c.arena.i32(shift),
    [EP.yzp]: readZp(c.op, c.node.attrs, "y_zp", ydt),
    [EP.qmin]: qmin,
    [EP.qmax]: qmax,
  };
}

/** A weight panel: where the kernels find the encoded weights at run time. */
interface Panel {
  /** K rounded up to the vector step (8 elements split, 16 elements s8). */
  kp: number;
  /** Bytes of an encoded row (2·kp split, kp s8). */
  rb: number;
  /** The s8 layout (7-bit weights, 1 byte per element) rather than the split one. */
  s8: boolean;
  /** int32 [N]: the per-column constant (split: −zp_u·Σw; s8: (128 − zp_u)·Σw). */
  corr: number;
  /** Scratch bytes the panel needs at run time (sub-byte layouts decode into scratch). */
  scratchBytes: number;
  /** The panel's address; sub-byte layouts decode into `env.scratch + off` first. */
  get(env: RunEnv, off: number): number;
}

const BITS: Record<string, number> = { i4: 4, i2: 2, b1: 1 };

/**
 * Counters for tests and profiling: GEMM-based QConv/QGemm nodes compiled onto the s8
 * layout (7-bit weights, one relaxed dot per 16 products) and onto the split layout.
 *
 * @example
 * ```ts
 * const before = gemmPaths.s8; // ... compile ...; gemmPaths.s8 - before
 * ```
 */
export const gemmPaths: { s8: number; split: number } = { s8: 0, split: 0 };

/**
 * Whether a layer takes the s8 layout: every weight in −64..63 (so that w + 64 is a
 * valid i7 operand on every host). Sub-byte layouts always fit; int8 weights are
 * scanned at load, so files quantized with 8-bit weights keep the split path.
 */
function fitsS8(w: Int8Array, layout: string): boolean {
  const ok = layout !== "i8" || w.every((v) => v >= -64 && v <= 63);
  gemmPaths[ok ? "s8" : "split"]++;
  return ok;
}

/**
 * Prepares an int8-valued [N][K] weight matrix for the GEMM. Layout "i8": encoded once
 * into a persistent panel (s8: 1 byte per weight, split: 2 bytes). Layouts "i4" / "i2" /
 * "b1": the packed bytes stay in memory as they are (K/2, K/4, K/8 bytes per row); each
 * call decodes them into the scratch region (b1 switches to i2 when a zero must be
 * stored, e.g. conv channel padding).
 */
function makePanel(
  c: CompileCtx,
  w: Int8Array,
  n: number,
  k: number,
  zpU: number,
  layout: string,
  s8: boolean,
  align = s8 ? 16 : 8,
): Panel {
  const kp = roundUp(k, align), rb = s8 ? kp : 2 * kp;
  let sum = 0;
  const cs = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    sum = 0;
    for (let j = 0; j < k; j++) sum += w[i * k + j];
    cs[i] = sum;
  }
  const f = s8 ? 128 - zpU : -zpU;
  const corr = c.arena.i32(cs.map((v) => Math.imul(f, v)));
  if (layout === "i8") {
    const panel = c.arena.alloc(n * rb);
    const mark = c.arena.top;
    const tmp = c.arena.put(w);
    if (s8) c.k.pack_w7(tmp, k, kp, panel, 0, n);
    else c.k.pack_w(tmp, k, kp, panel, c.arena.alloc(n * 4), 0, n);
    c.arena.top = mark; // the unpacked copy is not kept
    return { kp, rb, s8, corr, scratchBytes: 0, get: () => panel };
  }
  if (layout === "b1" && w.some((v) => v === 0)) layout = "i2";
  const bytes = pack(layout as LayoutName, w, [n, k]);
  const src = c.arena.put(bytes);
  const rowBytes = bytes.length / n, bits = BITS[layout];
  const scratchBytes = roundUp(n * rb, 16);
  const decode = s8 ? "decode_w7" : "decode_w";
  return {
    kp,
    rb,
    s8,
    corr,
    scratchBytes,
    get(env, off) {
      const dst = env.scratch + off;
      env.par(decode, [bits, src, rowBytes, k, kp, dst], n, grainFor(k));
      return dst;
    },
  };
}

/**
 * The column constant and bias of an epilogue record: when no sum of K products
 * ((x − zp)·w, |.| <= 255·128) plus a bias can leave the int32 range, the bias is folded
 * into the column correction (one add per output instead of a saturating one).
 */
function colFields(c: CompileCtx, corr: number, n: number, k: number): Record<number, number> {
  const b = c.node.inputs[2] ? c.constant(c.node.inputs[2]) : undefined;
  if (!b) return { [EP.ccol]: corr, [EP.bias]: 0 };
  const bias = b.data as Int32Array;
  const room = 2 ** 31 - 1 - k * 255 * 128;
  if (!bias.every((v) => Math.abs(v) <= room)) return { [EP.ccol]: corr, [EP.bias]: biasPtr(c) };
  const cs = new Int32Array(c.arena.buffer, corr, n);
  return { [EP.ccol]: c.arena.i32(cs.map((v, i) => v + bias[i])), [EP.bias]: 0 };
}

/**
 * Switches for benchmarks and tests, read when a node is compiled. `colTable`: QGemm's
 * per-column epilogue constants as a vector table (colTable below). `k4gemm`: QGemm with 7-bit
 * weights, K <= 256 and 8+ rows on the k4 GEMM (rows as its pixels).
 *
 * @example
 * ```ts
 * gemmOptions.colTable = false; // compile the next models with the scalar column arrays
 * ```
 */
export const gemmOptions: { colTable: boolean; k4gemm: boolean; sharePrep: boolean } = {
  colTable: true,
  k4gemm: true,
  sharePrep: true,
};

/**
 * The A4 groups of a k4 QGemm's input when other QGemms read the same input (a
 * transformer's q, k and v projections): the first such step in graph order (`lead`)
 * prepares them into a buffer of its own, kept for the run, and the others read them
 * there. Only steps in the same residual blocks share (a skipped block skips all of them);
 * the key holds everything the groups depend on. Undefined when no other QGemm reads `x`
 * (the groups then go to scratch).
 */
function sharedA4(
  c: CompileCtx,
  x: string,
  key: (number | boolean)[],
  bytes: number,
): { a4: number; lead: boolean } | undefined {
  if (!gemmOptions.sharePrep) return undefined;
  const readers = c.g.nodes.filter((n) => n.op === "QGemm" && n.inputs[0] === x).length;
  if (readers < 2) return undefined;
  const k = `k4rows:${x}:${key.join(",")}:${c.blocks.join(",")}`;
  const a4 = c.shared.get(k);
  if (a4 !== undefined) return { a4, lead: false };
  const p = c.arena.alloc(bytes);
  c.shared.set(k, p);
  return { a4: p, lead: true };
}

/**
 * Switches a per-column record to the vector table (as/epilogue.ts EP_SCALAR = 2): for each
 * column, mult, ccol, and the RDBPOT mask 2^r − 1 and half (r = −shift when shift <= 0,
 * else 0), each repeated over 4 lanes, so that the 4-row epilogue loads them whole.
 */
function colTable(c: CompileCtx, ep: number, n: number): void {
  const rec = new Int32Array(c.arena.buffer, ep, EP_WORDS);
  const mult = new Int32Array(c.arena.buffer, rec[EP.mult], n).slice();
  const shift = new Int32Array(c.arena.buffer, rec[EP.shift], n).slice();
  const ccol = rec[EP.ccol] ? new Int32Array(c.arena.buffer, rec[EP.ccol], n).slice() : undefined;
  const t = new Int32Array(n * 16);
  for (let j = 0; j < n; j++) {
    const r = shift[j] > 0 ? 0 : -shift[j];
    const mask = r ? (2 ** r - 1) | 0 : 0;
    const v = [mult[j], ccol ? ccol[j] : 0, mask, mask >> 1];
    for (let q = 0; q < 4; q++) t.fill(v[q], j * 16 + q * 4, j * 16 + q * 4 + 4);
  }
  const p = c.arena.i32(t);
  setWords(c, ep, { [EP.mult]: p, [EP.scalar]: 2 });
}

/**
 * The k4 fast output stage's channel table (as/k4.ts fast8; EP.ftab): 64 bytes a channel,
 * ccol + bias + 2^31 (wrapping) and 2·mult each over 4 i32 lanes, the constant
 * k = 2^31 + (2^(r−1) − 1 − mult)·2^32 of as/requant.ts mbqmU4 over 2 i64 lanes (words
 * 2^31, 2^(r−1) − 1 − mult), then r = −shift, or 0 where the channel
 * needs the full stage (shift outside [-30, -1], |ccol| or |bias| >= 2^29); no table
 * with a per-tensor multiplier or row corrections. Call once the record is complete (and
 * before colTable).
 */
function fastTable(c: CompileCtx, ep: number, n: number): void {
  const rec = new Int32Array(c.arena.buffer, ep, EP_WORDS).slice();
  if (rec[EP.scalar] || rec[EP.crow]) return;
  const view = (p: number) => (p ? new Int32Array(c.arena.buffer, p, n).slice() : undefined);
  const mult = view(rec[EP.mult])!, shift = view(rec[EP.shift])!;
  const ccol = view(rec[EP.ccol]), bias = view(rec[EP.bias]);
  const t = new Int32Array(n * 16);
  const small = (v: number) => Math.abs(v) < 2 ** 29;
  for (let j = 0; j < n; j++) {
    const cc = ccol ? ccol[j] : 0, bi = bias ? bias[j] : 0, sh = shift[j];
    if (sh >= 0 || sh < -30 || !small(cc) || !small(bi)) continue; // r = 0: full stage
    const r = -sh;
    const [b2, m2, klo, khi] = mbqmU4Words(cc + bi, mult[j], r);
    t.fill(b2, j * 16, j * 16 + 4);
    t.fill(m2, j * 16 + 4, j * 16 + 8);
    t.set([klo, khi, klo, khi], j * 16 + 8);
    t[j * 16 + 12] = r;
  }
  setWords(c, ep, { [EP.ftab]: c.arena.i32(t) });
}

/**
 * The operands of as/requant.ts mbqmU4 for an accumulator offset b (bias, ccol + bias),
 * multiplier m and right shift r (1..31), as int32 words: b + 2^31 (wrapping), 2m, and the
 * low and high words of k = 2^31 + (2^(r−1) − 1 − m)·2^32.
 */
function mbqmU4Words(b: number, m: number, r: number): [number, number, number, number] {
  return [(b + 2 ** 31) | 0, (2 * m) | 0, (2 ** 31) | 0, 2 ** (r - 1) - 1 - m];
}

function biasPtr(c: CompileCtx): number {
  const b = c.node.inputs[2] ? c.constant(c.node.inputs[2]) : undefined;
  return b ? c.arena.put(b.data) : 0;
}

function residualFields(c: CompileCtx, ydt: QDType): Record<number, number> {
  const r = c.node.inputs[3];
  if (!r) return {};
  const rdt = c.meta(r).dtype as QDType;
  // the add's operands: the conv's code C (output type, range [dlo, dhi]) and the residual R
  const p = qaddParams(c, ["c", ydt], ["r", rdt], ydt, 1, 1);
  const [dlo, dhi] = qRange(ydt);
  return {
    [EP.rsigned]: p.bs,
    [EP.czp]: p.azp,
    [EP.rzp]: p.bzp,
    [EP.cm]: p.am,
    [EP.cs]: p.ash,
    [EP.rm]: p.bm,
    [EP.rs]: p.bsh,
    [EP.ym]: p.ym,
    [EP.ys]: p.ysh,
    [EP.dlo]: dlo,
    [EP.dhi]: dhi,
    // T[C·256 + R] (as/epilogue.ts EP_PTAB) for the bytes of C and R
    [EP.ptab]: convOptions.pairTable ? c.arena.put(qaddTable(p, ydt, rdt)) : 0,
  };
}

/** Points the epilogue at image n's output (and residual): `plane` elements per image. */
function imageOut(
  env: RunEnv,
  ep: number,
  y: string,
  r: string | undefined,
  n: number,
  plane: number,
): void {
  const v = env.i32(), w = ep >> 2;
  v[w + EP.out] = env.addr(y) + n * plane;
  v[w + EP.res] = r ? env.addr(r) + n * plane : 0;
}

/**
 * QConv (8-bit weights): im2row + GEMM for group 1, a direct kernel otherwise.
 *
 * @example
 * ```ts
 * const step = compileQConv(ctx); // undefined: the node falls back to ref
 * step?.(env);
 * ```
 */
export function compileQConv(c: CompileCtx): Step | undefined {
  const { node } = c;
  const a = node.attrs;
  const layout = String(a.w_layout ?? "i8");
  const wT = c.constant(node.inputs[1]);
  if (!wT) return undefined;
  if (node.inputs[2] && !c.constant(node.inputs[2])) return undefined;
  const w = readWeight(c.op, wT, a) as Tensor;
  const xm = c.meta(node.inputs[0]);
  const [N, C] = xm.shape;
  const M = w.shape[0];
  const kernel = w.shape.slice(2);
  const win = lift2d(slidingWindow(c.op, a, xm.shape.slice(2), kernel, false));
  const [H, W] = win.inSize, [kh, kw] = win.kernel, [oh, ow] = win.outSize;
  const HW = H * W, P = oh * ow;
  const group = readGroup(c.op, a);
  const xdt = xm.dtype as QDType, ydt = readQDType(c.op, a, xdt);
  const xs = signedOf(xdt);
  const xZp = readZp(c.op, a, "x_zp", xdt);
  const zpU = xs ? xZp + 128 : xZp;
  const ep = words(c, EP_WORDS);
  const cg = words(c, 19);
  setWords(c, cg, {
    [CG.h]: H,
    [CG.w]: W,
    [CG.kh]: kh,
    [CG.kw]: kw,
    [CG.sh]: win.strides[0],
    [CG.sw]: win.strides[1],
    [CG.dh]: win.dilations[0],
    [CG.dw]: win.dilations[1],
    [CG.ph]: win.padBegin[0],
    [CG.pw]: win.padBegin[1],
    [CG.ow]: ow,
    [CG.oh]: oh,
    [CG.m]: M,
  });
  const base: Record<number, number> = {
    ...requantFields(c, M, ydt),
    ...residualFields(c, ydt),
    [EP.bias]: biasPtr(c),
    [EP.ors]: 1,
    [EP.ocs]: P,
  };
  const [x, , , r] = node.inputs;
  const y = node.outputs[0];
  const hasR = !!r;
  if (group !== 1 && group === C && M === C && !hasR) {
    const dw = (convOptions.dwc8 ? depthwiseC8 : depthwise)(c, {
      x,
      y,
      N,
      C,
      H,
      W,
      kh,
      kw,
      oh,
      ow,
      win,
      xs,
      zpU,
      ydt,
      w: w.data as Int8Array,
    });
    if (dw) return dw;
  }
  if (group !== 1) {
    const wp = c.arena.put(w.data);
    setWords(c, ep, base);
    return (env) => {
      for (let n = 0; n < N; n++) {
        imageOut(env, ep, y, r, n, M * P);
        env.par(
          "conv_direct",
          [env.addr(x) + n * C * HW, xs, xZp, C, wp, group, cg, ep],
          M,
          grainFor(P * (C / group) * kh * kw),
        );
      }
    };
  }
  // Weights [M][C][kh][kw] → [M][kh][kw][Cp] (zero channels C..Cp), then encoded.
  // s8 with C off the 16-byte step and several taps: dense taps, [M][kh·kw·C → 16].
  const s8 = fitsS8(w.data as Int8Array, layout);
  const pointwise = kh === 1 && kw === 1 && win.strides.every((s) => s === 1) &&
    win.padBegin.every((p) => p === 0) && oh === H && ow === W;
  const k4o: K4Conv = { x, y, r, N, C, M, HW, xs, zpU, layout, base, ep, w: w.data as Int8Array };
  // k4 GEMM for short reductions, and for long ones on wide maps (its gain is the hsums
  // and padding the pixel-row GEMM spends per output; K4_MAX_C)
  if (
    s8 && pointwise && convOptions.k4 &&
    (C <= K4_MAX_C || (HW >= K4_WIDE_HW && C <= K4_WIDE_C))
  ) {
    return pointwiseK4(c, k4o);
  }
  const [sh, sw] = win.strides;
  if (
    s8 && !pointwise && convOptions.direct && win.dilations.every((d) => d === 1) &&
    roundUp(C, 4) * kh * kw <= K4_MAX_K &&
    ((sh === 1 && sw === 1) || (convOptions.dcStride && stridedDirect(C, kh, kw, sh, sw)))
  ) {
    return directConv(c, { ...k4o, cg, kh, kw, oh, ow, sh, sw });
  }
  const Cp = roundUp(C, s8 ? 16 : 8), rb = s8 ? Cp : 2 * Cp, kk = kh * kw;
  const dense = s8 && kk > 1 && C % 16 !== 0;
  // Few output pixels (fewer PT-pixel chunks than threads, e.g. 7×7 maps): the patch
  // matrix is built whole and the threads split the output channels instead.
  const byCols = !pointwise && c.threads > 1 && Math.floor(P / PT) < c.threads &&
    M >= 2 * c.threads;
  // s8 convs with a window and a short patch (the stems, strided 1×1, small C; stride 1
  // with dilation 2, or all with convOptions.direct off) on the k4 GEMM: the weight rows are only padded to 4 bytes. At ResNet-18's 3×3 convs (K = 576+)
  // k4 measured 1–3 % slower than the pixel-row GEMM; at K <= 288 even or faster.
  const k4 = s8 && !pointwise && !byCols && convOptions.k4conv &&
    (dense ? kk * C : kk * Cp) <= K4_MAX_K;
  const prb = dense ? roundUp(kk * C, 16) : kk * rb, ts = dense ? C : Cp;
  const K = k4 ? roundUp(dense ? kk * C : kk * Cp, 4) : dense ? prb : kk * Cp;
  const wr = new Int8Array(M * K);
  const wd = w.data as Int8Array;
  for (let m = 0; m < M; m++) {
    for (let ci = 0; ci < C; ci++) {
      for (let t = 0; t < kk; t++) wr[m * K + t * ts + ci] = wd[(m * C + ci) * kk + t];
    }
  }
  const pk = makePanel(c, wr, M, K, zpU, layout, s8, k4 ? 4 : undefined);
  Object.assign(base, colFields(c, pk.corr, M, C * kk));
  setWords(c, cg, { [CG.rb]: rb, [CG.dense]: dense ? C : 0, [CG.kp]: prb });
  setWords(c, ep, base);
  if (k4) fastTable(c, ep, M);
  const pad = c.arena.alloc(rb);
  if (s8) c.k.fill_row7(pad, zpU, C, Cp);
  else c.k.fill_row(pad, zpU, C, Cp);
  const [prepFn, rowsFn, convFn] = s8
    ? ["prep_x7", "gemm_rows7", "conv_gemm7"]
    : ["prep_x", "gemm_rows", "conv_gemm"];
  // dense taps: the pixel rows packed to C bytes too (a row of taps is one copy)
  const xdBytes = dense ? roundUp(HW * C + 32, 16) : 0;
  const xpBytes = roundUp(HW * rb, 16) + xdBytes;
  const kq = K / 4;
  const sstride = k4
    ? roundUp(c.k.conv_k4_scratch_bytes(prb, rb, kq), 16)
    : roundUp(PT * prb, 16) + (dense ? rb : 0); // dense rows spill <= rb bytes
  const lda = prb + (dense ? rb : 0);
  const panelOff = xpBytes +
    (pointwise ? 0 : byCols ? roundUp(P * lda, 16) : c.threads * sstride);
  c.scratch(panelOff + pk.scratchBytes);
  if (byCols) convPaths.byCols++;
  if (k4) k4Paths.conv++;
  const colsFn = s8 ? "gemm_cols7" : "gemm_cols";
  const kx = c.k as unknown as Record<string, (...a: number[]) => void>;
  return (env) => {
    const xp = env.scratch;
    const xd = xp + xpBytes - xdBytes;
    const v = env.i32(), w = cg >> 2;
    v[w + CG.scratch] = xp + xpBytes;
    v[w + CG.sstride] = sstride;
    v[w + CG.xd] = dense ? xd : 0;
    const panel = pk.get(env, panelOff);
    for (let n = 0; n < N; n++) {
      env.par(prepFn, [env.addr(x) + n * C * HW, xs, C, HW, Cp, xp], HW, grainFor(PREP_WORK * C));
      // in order on this thread (each row's copy spills into the next)
      if (dense) kx.compact_rows(xp, rb, C, xd, 0, HW, 0);
      imageOut(env, ep, y, r, n, M * P);
      if (pointwise) {
        env.par(rowsFn, [xp, rb, panel, rb, rb / 16, ep, 0, M], P, grainFor(M * Cp));
      } else if (byCols) {
        const a = xp + xpBytes;
        env.par("conv_im2row", [xp, pad, cg, a, lda, s8 ? 1 : 0], P, grainFor(PREP_WORK * prb));
        env.par(colsFn, [a, lda, panel, prb, prb / 16, ep, P], M, grainFor(P * K));
      } else if (k4) {
        env.par(
          "conv_k4",
          [xp, pad, panel, cg, ep, kq],
          Math.ceil(P / 8),
          Math.max(PT / 8, grainFor(8 * M * K)),
        );
      } else env.par(convFn, [xp, pad, panel, cg, ep], P, Math.max(PT, grainFor(M * K)));
    }
  };
}

/**
 * Switches for benchmarks and tests (A/B of kernel paths in one process); read when a
 * node is compiled. `k4`: s8 pointwise convs take the k4 GEMM (as/k4.ts); `k4conv`: s8
 * convs with a window (not pointwise, not channel-split) too (as/convk4.ts); `direct`: s8
 * convs with a window, stride 1 and dilation 1 take the direct conv (as/convdc.ts) first;
 * `dcStride`: strided ones too where they measured faster (stridedDirect), `dcStrideAll`:
 * every strided one within its K limit; `dcPack`: 1-channel inputs (kw <= 4) pack a row
 * of taps into one quad on the direct conv (prep_dc1); `dcCorr`: the stride-1 direct conv
 * makes each output row's correction −64·Σa' once instead of in every tile; `dwc8`: depthwise convs with small output maps take the channel-vectorized kernel
 * (as/dwconv8.ts) where its preconditions hold.
 *
 * @example
 * ```ts
 * convOptions.k4 = false; // compile the next models on the pixel-row GEMM
 * ```
 */
export const convOptions: {
  k4: boolean;
  k4conv: boolean;
  direct: boolean;
  dcStride: boolean;
  dcStrideAll: boolean;
  dcPack: boolean;
  dcCorr: boolean;
  dwc8: boolean;
  pairTable: boolean;
} = {
  k4: true,
  k4conv: true,
  direct: true,
  dcStride: true,
  dcStrideAll: false,
  dcPack: true,
  dcCorr: true,
  dwc8: true,
  pairTable: true,
};

/**
 * Whether a strided s8 conv (dilation 1, within K4_MAX_K) takes the direct conv's phase
 * planes: in in-process A/Bs at 1 thread (ms, im2row → direct) the stems with C <= 3 and
 * a 3×3 window won (MobileNetV2 3×3 s2 C 3 at 224×224: 1.09 → 0.80), the 7×7 one lost
 * (ResNet-18: 3.71 → 4.02); the 1×1 s2 downsamples won at C 16 (ResNet-14: 0.014 →
 * 0.012) and lost at C 64..256 (ResNet-18: 0.251 → 0.280, 0.196 → 0.227, 0.178 →
 * 0.204); the 3×3 s2 with C 16 / 32 (ResNet-14) went even or slower (0.035 → 0.036,
 * 0.029 → 0.033). convOptions.dcStrideAll takes every one (tests, A/Bs).
 */
function stridedDirect(C: number, kh: number, kw: number, sh: number, sw: number): boolean {
  if (sh > 4 || sw > 4) return false;
  if (convOptions.dcStrideAll) return true;
  return C <= 3 ? kh * kw <= 9 : kh * kw === 1 && C <= DC_S2_MAX_C;
}

/** Largest C of a strided 1×1 conv on the direct path (stridedDirect). */
const DC_S2_MAX_C = 32;

/**
 * Largest input channel count of a pointwise conv (and reduction of a QGemm) on the k4
 * GEMM; maps of K4_WIDE_HW+ pixels take it up to K4_WIDE_C channels. In-process A/B on
 * MobileNetV2 (1 thread, with the fast stage's channel table): at 14×14 with C = 384 and
 * 576 the k4 GEMM took 0.162 → 0.144 ms and 0.306 → 0.287 ms against the pixel-row GEMM,
 * at 7×7 with C = 960 0.214 → 0.224 ms and 0.341 → 0.384 ms.
 */
const K4_MAX_C = 256, K4_WIDE_HW = 144, K4_WIDE_C = 1024;

/**
 * Longest patch (kh·kw·C, padded as the conv path pads it) of a windowed conv on k4, and
 * of a stride-1 conv on the direct path (kh·kw·⌈C/4⌉·4): at 3×3 convs with K = 1152+ the
 * direct conv took 1.13× (C = 128, 28×28) and 1.21× (C = 256, 14×14) the pixel-row GEMM's
 * time in an in-process A/B.
 */
const K4_MAX_K = 288;

/**
 * Counters for tests and profiling: s8 QConv nodes compiled onto the k4 GEMM (pointwise;
 * with a window: conv, on im2row; direct: the direct conv), k4 QGemms (gemm; sharedPrep:
 * those that reuse another QGemm's prepared input).
 *
 * @example
 * ```ts
 * const before = k4Paths.pointwise; // ... compile ...; k4Paths.pointwise - before
 * ```
 */
export const k4Paths: {
  pointwise: number;
  conv: number;
  direct: number;
  directStrided: number;
  directPacked: number;
  gemm: number;
  /** k4 QGemms that read the A4 groups an earlier QGemm of the same input prepared. */
  sharedPrep: number;
} = {
  pointwise: 0,
  conv: 0,
  direct: 0,
  directStrided: 0,
  directPacked: 0,
  gemm: 0,
  sharedPrep: 0,
};

/**
 * Rows per part of a call over `rows` rows (`work` operations each): at least grainFor's,
 * then the grain whose parts, dealt to the threads, leave the busiest the fewest rows (28
 * rows in 5 parts would leave one of 2 threads 3 parts: 4 parts of 7 instead).
 */
function rowGrain(rows: number, work: number, threads: number): number {
  let best = grainFor(work), most = Infinity;
  for (let g = best; g <= rows; g++) {
    const n = chunkCount(rows, g, threads), busiest = Math.ceil(n / threads) * rows / n;
    if (busiest < most - 1e-9) [best, most] = [g, busiest];
  }
  return best;
}

/** The s8 QConv operands and epilogue the k4 planners share (compileQConv fills them). */
interface K4Conv {
  x: string;
  y: string;
  r: string | undefined;
  N: number;
  C: number;
  M: number;
  HW: number;
  xs: number;
  zpU: number;
  layout: string;
  base: Record<number, number>;
  ep: number;
  w: Int8Array;
}

/**
 * An s8 QConv with a window and dilation 1, direct (as/convdc.ts): each image becomes
 * ⌈C/4⌉ quad planes per stride phase (Hq·Wq·4 bytes each, the pad border included, + 32
 * bytes of slack: scratch; at stride 1 one phase, the padded map), the weights W4 rows
 * over the taps (j·kh + r)·kw + s (4 bytes a tap), and a table of the taps' byte offsets
 * in the planes (arena). A 1-channel input with kw <= 4 (the stems) packs a row of taps
 * into one quad instead (prep_dc1; taps r, kh quads). Threads split output rows.
 */
function directConv(
  c: CompileCtx,
  o: K4Conv & {
    cg: number;
    kh: number;
    kw: number;
    oh: number;
    ow: number;
    sh: number;
    sw: number;
  },
): Step {
  const { x, y, r, N, C, M, HW, xs, ep, cg, kh, kw, oh, ow, sh, sw } = o;
  const kk = kh * kw, Hp = (oh - 1) * sh + kh, Wp = (ow - 1) * sw + kw;
  const nY = Math.min(sh, kh), nX = Math.min(sw, kw), Hq = Math.ceil(Hp / sh);
  const pack = convOptions.dcPack && C === 1 && kw > 1 && kw <= 4 && 3 * sw + kw <= 16;
  const Wq = pack ? ow : Math.ceil(Wp / sw), rb = 4 * Wq, ps = Hq * rb;
  const cq = Math.ceil(C / 4), kq = pack ? kh : cq * kk, K = 4 * kq;
  const wr = new Int8Array(M * K), tab = new Int32Array(kq);
  for (let m = 0; m < M; m++) {
    for (let ci = 0; ci < C; ci++) {
      for (let t = 0; t < kk; t++) {
        const at = pack ? Math.floor(t / kw) * 4 + t % kw : ((ci >> 2) * kk + t) * 4 + (ci & 3);
        wr[m * K + at] = o.w[(m * C + ci) * kk + t];
      }
    }
  }
  // tap (r, s) of quad j: plane (j, r % sh, s % sw), pixel (r / sh, s / sw)
  const plane = (j: number, r: number, s: number) =>
    pack ? (r % sh) * ps : ((j * nY + r % sh) * nX + s % sw) * ps;
  for (let j = 0; j < (pack ? 1 : cq); j++) {
    for (let t = 0; t < (pack ? kh : kk); t++) {
      const [rr, ss] = pack ? [t, 0] : [Math.floor(t / kw), t % kw];
      tab[j * kk + t] = plane(j, rr, ss) + (Math.floor(rr / sh) * Wq + Math.floor(ss / sw)) * 4;
    }
  }
  const pk = makePanel(c, wr, M, K, o.zpU, o.layout, true, 4);
  Object.assign(o.base, colFields(c, pk.corr, M, C * kk));
  setWords(c, ep, o.base);
  fastTable(c, ep, M);
  const tp = c.arena.i32(tab);
  const planes = pack ? nY : cq * nY * nX;
  const xqBytes = roundUp(planes * ps + 64, 16);
  const rows = rowGrain(oh, ow * M * K, c.threads);
  // at stride 1 each output row's correction −64·Σa' is made once (as/convdc.ts dcCorrRow),
  // in one row per thread
  const corr = convOptions.dcCorr && !pack && sh === 1 && sw === 1;
  const corrBytes = corr ? c.threads * c.k.dc_corr_bytes(ow, kw) : 0;
  const prepGrain = grainFor(PREP_WORK * 4 * Wq);
  c.scratch(xqBytes + pk.scratchBytes + corrBytes);
  k4Paths.direct++;
  if (pack) k4Paths.directPacked++;
  if (sh > 1 || sw > 1) k4Paths.directStrided++;
  return (env) => {
    const xq = env.scratch;
    const panel = pk.get(env, xqBytes);
    // the threads' correction rows follow the panel
    const cb = corr ? xq + xqBytes + pk.scratchBytes : 0;
    for (let n = 0; n < N; n++) {
      const xa = env.addr(x) + n * C * HW;
      if (pack) env.par("prep_dc1", [xa, xs, o.zpU - 128, cg, xq], planes * Hq, prepGrain);
      else env.par("prep_dc", [xa, xs, C, o.zpU - 128, cg, xq], planes * Hq, prepGrain);
      imageOut(env, ep, y, r, n, M * oh * ow);
      env.par("conv_dc", [xq, panel, tp, kq, rb, cg, ep, cb], oh, rows);
    }
  };
}

/**
 * An s8 pointwise QConv (1×1, stride 1, no pad) on the k4 GEMM (as/k4.ts): the NCHW
 * input becomes A4 groups of 4 pixels (16·⌈C/4⌉ bytes each, scratch), the weights W4
 * rows of ⌈C/4⌉·4 bytes (persistent: M·⌈C/4⌉·4 bytes, no more than the 16-padded s8
 * panel); each relaxed dot gives 4 pixels of one channel, no horizontal sums.
 */
function pointwiseK4(c: CompileCtx, o: K4Conv): Step {
  const { x, y, r, N, C, M, HW, xs, ep } = o;
  const pk = makePanel(c, o.w, M, C, o.zpU, o.layout, true, 4);
  const kq = pk.kp / 4, ldg = 16 * kq, G = Math.ceil(HW / 4);
  Object.assign(o.base, colFields(c, pk.corr, M, C));
  setWords(c, ep, o.base);
  fastTable(c, ep, M);
  const a4Bytes = roundUp(G * ldg, 16);
  c.scratch(a4Bytes + pk.scratchBytes);
  k4Paths.pointwise++;
  return (env) => {
    const a4 = env.scratch;
    const panel = pk.get(env, a4Bytes);
    for (let n = 0; n < N; n++) {
      env.par(
        "prep_k4",
        [env.addr(x) + n * C * HW, xs, C, HW, kq, a4],
        G,
        grainFor(PREP_WORK * 4 * C),
      );
      imageOut(env, ep, y, r, n, M * HW);
      k4Rows(env, [a4, ldg, panel, pk.kp, kq, ep], M, HW);
    }
  };
}

/**
 * The k4 GEMM over P pixels × M channels (as/k4.ts gemm_k4_rows; `k`: A4 groups, their
 * stride, the W4 panel, its row bytes, quads, epilogue), the threads splitting whole
 * 8-pixel blocks.
 */
function k4Rows(env: RunEnv, k: number[], M: number, P: number): void {
  env.par("gemm_k4_rows", [...k, M, P], Math.ceil(P / 8), grainFor(8 * M * k[3]));
}

/**
 * Work units per tap product of the depthwise kernel (8 products per ~8 SIMD
 * instructions, against 16 per relaxed dot in the GEMM: about a tenth of its rate).
 */
const DW_WORK = 8;

/**
 * Work units (MAC-equivalents of {@link grainFor}) per byte of the scalar re-layouts
 * (NCHW → pixel rows, im2row): a byte moved costs about as much as a few dozen MACs of
 * the relaxed-dot GEMM, so these calls split across threads at the same wall time.
 */
const PREP_WORK = 16;

/**
 * Counters for tests and profiling: group-1 QConv nodes compiled onto the channel-split
 * path (whole patch matrix, threads split the output channels).
 *
 * @example
 * ```ts
 * const before = convPaths.byCols; // ... compile ...; convPaths.byCols - before
 * ```
 */
export const convPaths: { byCols: number } = { byCols: 0 };

/** A depthwise QConv's shape and operands (compileQConv hands them to the planners). */
interface DwConv {
  x: string;
  y: string;
  N: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  win: { strides: number[]; dilations: number[]; padBegin: number[] };
  xs: number;
  zpU: number;
  ydt: QDType;
  w: Int8Array;
}

/**
 * What both depthwise kernels read from the node: per-channel multipliers, the bias (0s
 * when absent), the window and the padded plane's extent (hp × wp).
 */
function dwParams(c: CompileCtx, o: DwConv) {
  const { mult, shift } = readMultipliers(c.op, c.node.attrs, "mult", "shift", o.C);
  const b = c.node.inputs[2] ? c.constant(c.node.inputs[2]) : undefined;
  const bias = b ? (b.data as Int32Array) : undefined;
  const [sh, sw] = o.win.strides, [dh, dw] = o.win.dilations, [ph, pw] = o.win.padBegin;
  const hp = Math.max(o.H + ph, (o.oh - 1) * sh + (o.kh - 1) * dh + 1);
  const wp = Math.max(o.W + pw, (o.ow - 1) * sw + (o.kw - 1) * dw + 1);
  return { mult, shift, bias, sh, sw, dh, dw, ph, pw, hp, wp };
}

/**
 * The record both depthwise kernels share (as/dwconv.ts / dwconv8.ts: words 0–20; word
 * 19, the scratch base, is written per run), then the kernel's own words.
 */
function dwRecord(
  c: CompileCtx,
  o: DwConv,
  p: ReturnType<typeof dwParams>,
  sstride: number,
  own: number[],
): number {
  const [qmin, qmax] = readClamp(c.op, c.node.attrs, o.ydt);
  const { sh, sw, dh, dw, ph, pw, hp, wp } = p;
  const yzp = readZp(c.op, c.node.attrs, "y_zp", o.ydt);
  return c.arena.i32([
    ...[o.H, o.W, o.kh, o.kw, sh, sw, dh, dw, ph, pw, o.oh, o.ow, hp, wp],
    ...[o.zpU, o.xs, yzp, qmin, qmax, 0, sstride],
    ...own,
  ]);
}

/** The step of a depthwise kernel: `units` parts per image (channels or channel groups). */
function dwStep(o: DwConv, kernel: string, rec: number, units: number, grain: number): Step {
  const inPlane = o.H * o.W, outPlane = o.oh * o.ow;
  return (env) => {
    env.i32()[(rec >> 2) + 19] = env.scratch;
    for (let n = 0; n < o.N; n++) {
      env.par(
        kernel,
        [env.addr(o.x) + n * o.C * inPlane, env.addr(o.y) + n * o.C * outPlane, rec],
        units,
        grain,
      );
    }
  };
}

/**
 * The SIMD depthwise kernel (as/dwconv.ts) when its preconditions hold: multipliers
 * <= 1 (shift <= 0), |bias| < 2^30 (no int32 saturation possible), stride 1 or 2 along
 * the width. Undefined otherwise (the direct kernel runs).
 */
function depthwise(c: CompileCtx, o: DwConv): Step | undefined {
  const p = dwParams(c, o);
  if (p.shift.some((v) => v > 0) || (p.sw !== 1 && p.sw !== 2)) return undefined;
  if (p.bias?.some((v) => Math.abs(v) >= 2 ** 30)) return undefined;
  const { hp, wp } = p;
  // i16 plane + 64 bytes of over-read slack, kk tap vectors, a partial store (as/dwconv.ts)
  const sstride = roundUp(2 * hp * wp + 64, 16) + 16 * o.kh * o.kw + 16;
  c.scratch(c.threads * sstride);
  const rec = dwRecord(c, o, p, sstride, [
    p.bias ? c.arena.put(p.bias) : 0,
    c.arena.i32(p.mult),
    c.arena.i32(p.shift),
    c.arena.put(o.w),
  ]);
  binaryCalls.depthwiseNodes++;
  return dwStep(o, "dwconv", rec, o.C, grainFor(DW_WORK * o.oh * o.ow * o.kh * o.kw + hp * wp));
}

/**
 * Input maps (H · W) at most this large take the channel-vectorized depthwise kernel (A/B
 * on MobileNetV2 at 1 thread: 28×28 and smaller won, 56×56 → 28×28 at stride 2 and the
 * larger maps lost).
 */
export const DWC8_MAX_MAP = 1024;

/** Bytes of a dwconv8 group record before its item weights (as/dwconv8.ts). */
const DWC8_HEAD = 192;

/**
 * The channel-vectorized depthwise kernel (as/dwconv8.ts) for input maps up to
 * {@link DWC8_MAX_MAP} when its preconditions hold: every channel's shift in −30..−1
 * (multiplier < 1/2: the near-rounding RDBPOT), |bias| < 2^30, width stride 1 or 2,
 * kh·kw <= 16384. Channels are grouped by equal shift, up to 8 per group; threads split
 * the groups. Otherwise today's kernel ({@link depthwise}).
 */
function depthwiseC8(c: CompileCtx, o: DwConv): Step | undefined {
  const p = dwParams(c, o);
  const { mult, shift, hp, wp } = p;
  const bias = p.bias ?? new Int32Array(o.C);
  const kk = o.kh * o.kw;
  if (
    o.H * o.W > DWC8_MAX_MAP || (p.sw !== 1 && p.sw !== 2) || kk > 16384 ||
    shift.some((v) => v > -1 || v < -30) || bias.some((v) => Math.abs(v) >= 2 ** 30)
  ) return depthwise(c, o);
  // items: per tap row the taps in pairs (kx, kx + 1) at dilation 1, else one by one
  const step = p.dw === 1 ? 2 : 1, perRow = Math.ceil(o.kw / step), ni = o.kh * perRow;
  // pair plane + 128 bytes of over-read slack, the HWC8 row buffer, 8 output pixels, item
  // offsets (as/dwconv8.ts)
  const sstride = roundUp(32 * hp * wp + 128, 16) + 16 * (wp + 1) + 64 + roundUp(4 * ni, 16);
  c.scratch(c.threads * sstride);
  // groups of up to 8 channels with equal shift
  const byShift = new Map<number, number[]>();
  for (let m = 0; m < o.C; m++) byShift.set(shift[m], [...(byShift.get(shift[m]) ?? []), m]);
  const groups: number[][] = [];
  for (const l of byShift.values()) {
    for (let i = 0; i < l.length; i += 8) groups.push(l.slice(i, i + 8));
  }
  const gstride = DWC8_HEAD + 32 * ni;
  const recs = new ArrayBuffer(groups.length * gstride);
  groups.forEach((ch, gi) => {
    const i32 = new Int32Array(recs, gi * gstride, DWC8_HEAD / 4);
    const w16 = new Int16Array(recs, gi * gstride + DWC8_HEAD, 16 * ni);
    for (let l = 0; l < 8; l++) i32[l] = ch[Math.min(l, ch.length - 1)];
    i32[8] = -shift[ch[0]];
    i32[9] = ch.length;
    i32[10] = ch.every((m) => m < o.C - 1) ? 1 : 0;
    // per lane bias + 2^31 (wrapping), 2·mult and the i64 k of as/requant.ts mbqmU4
    // (pad lanes: bias and multiplier 0)
    for (let l = 0; l < 8; l++) {
      const bl = l < ch.length ? bias[ch[l]] : 0, ml = l < ch.length ? mult[ch[l]] : 0;
      [i32[16 + l], i32[24 + l], i32[32 + 2 * l], i32[33 + 2 * l]] = mbqmU4Words(
        bl,
        ml,
        -shift[ch[0]],
      );
    }
    ch.forEach((m, l) => {
      // item t, lane l: the i16 pair at element 8·(2t + (l >> 2)) + 2·(l & 3)
      for (let ky = 0; ky < o.kh; ky++) {
        for (let j = 0; j < perRow; j++) {
          const t = ky * perRow + j, at = 8 * (2 * t + (l >> 2)) + 2 * (l & 3);
          for (let e = 0; e < step; e++) {
            const kx = j * step + e;
            if (kx < o.kw) w16[at + e] = o.w[m * kk + ky * o.kw + kx];
          }
        }
      }
    });
  });
  const rec = dwRecord(c, o, p, sstride, [c.arena.put(new Uint8Array(recs)), gstride]);
  binaryCalls.depthwiseC8Nodes++;
  const grain = grainFor(8 * (DW_WORK * o.oh * o.ow * kk + hp * wp));
  return dwStep(o, "dwconv8", rec, groups.length, grain);
}

/** Bytes of bgemm_rows scratch per thread (as/binary.ts: two 32-byte tile sums, padded). */
const BGEMM_TMP = 128;

/**
 * QGemm (8-bit or packed sub-byte weights): rows packed, then the GEMM.
 *
 * @example
 * ```ts
 * const step = compileQGemm(ctx);
 * ```
 */
export function compileQGemm(c: CompileCtx): Step | undefined {
  const { node } = c;
  const a = node.attrs;
  const layout = String(a.w_layout ?? "i8");
  const wT = c.constant(node.inputs[1]);
  if (!wT) return undefined;
  if (node.inputs[2] && !c.constant(node.inputs[2])) return undefined;
  const w = readWeight(c.op, wT, a) as Tensor;
  const [N, K] = w.shape;
  const xm = c.meta(node.inputs[0]);
  const rows = size(xm.shape) / K;
  const xdt = xm.dtype as QDType, ydt = readQDType(c.op, a, xdt);
  const xs = signedOf(xdt);
  const xZp = readZp(c.op, a, "x_zp", xdt);
  const s8 = fitsS8(w.data as Int8Array, layout);
  // the k4 GEMM (rows as its pixels, output row-major) for short reductions and 8+ rows
  const k4 = s8 && gemmOptions.k4gemm && gemmOptions.colTable && K <= K4_MAX_C && rows >= 8 &&
    layout !== "b1";
  const pk = makePanel(c, w.data as Int8Array, N, K, xs ? xZp + 128 : xZp, layout, s8, k4 ? 4 : 16);
  const [packFn, rowsFn, colsFn] = s8
    ? ["pack_rows7", "gemm_rows7", "gemm_cols7"]
    : ["pack_rows", "gemm_rows", "gemm_cols"];
  const ep = words(c, EP_WORDS);
  setWords(c, ep, {
    ...requantFields(c, N, ydt),
    // the popcount path's copy of the record drops ccol: keep its bias separate
    ...(layout === "b1" && xZp === 0
      ? { [EP.ccol]: pk.corr, [EP.bias]: biasPtr(c) }
      : colFields(c, pk.corr, N, K)),
    [EP.ors]: N,
    [EP.ocs]: 1,
  });
  const rb = pk.rb, steps = rb / 16;
  const panelOff = roundUp(rows * rb, 16);
  const [x] = node.inputs, y = node.outputs[0];
  // The popcount path has its own record: no zero-point column correction (x_zp = 0 and
  // no unsigned shift of the activations).
  let bep = 0;
  if (layout === "b1" && xZp === 0) {
    bep = words(c, EP_WORDS);
    new Int32Array(c.arena.buffer, bep, EP_WORDS).set(new Int32Array(c.arena.buffer, ep, EP_WORDS));
    setWords(c, bep, { [EP.ccol]: 0 });
  }
  if (k4) fastTable(c, ep, N);
  if (gemmOptions.colTable) colTable(c, ep, N);
  const bin = bep
    ? binaryGemm(c, w.data as Int8Array, N, K, rows, xdt, bep, panelOff + pk.scratchBytes)
    : undefined;
  if (k4) {
    const kq = pk.kp / 4, ldg = 16 * kq, G = Math.ceil(rows / 4);
    const a4Bytes = roundUp(G * ldg, 16);
    const sh = sharedA4(c, x, [xs, K, rows, kq], a4Bytes);
    const panelAt = sh ? 0 : a4Bytes;
    c.scratch(panelAt + pk.scratchBytes);
    k4Paths.gemm++;
    if (sh && !sh.lead) k4Paths.sharedPrep++;
    const prep = !sh || sh.lead, prepGrain = grainFor(PREP_WORK * 4 * K);
    return (env) => {
      const a4 = sh ? sh.a4 : env.scratch;
      const panel = pk.get(env, panelAt);
      if (prep) env.par("prep_k4_rows", [env.addr(x), xs, K, rows, kq, a4], G, prepGrain);
      env.i32()[(ep >> 2) + EP.out] = env.addr(y);
      k4Rows(env, [a4, ldg, panel, pk.kp, kq, ep], N, rows);
    };
  }
  c.scratch(panelOff + pk.scratchBytes + (bin?.scratchBytes ?? 0));
  return (env) => {
    if (bin) env.i32()[(bep >> 2) + EP.out] = env.addr(y);
    if (bin?.run(env, env.addr(x))) return;
    const xa = env.scratch;
    const panel = pk.get(env, panelOff);
    env.par(packFn, [env.addr(x), xs, K, pk.kp, xa], rows, grainFor(2 * K));
    env.i32()[(ep >> 2) + EP.out] = env.addr(y);
    if (rows >= 8) {
      env.par(rowsFn, [xa, rb, panel, rb, steps, ep, 0, N], rows, grainFor(N * pk.kp));
    } else env.par(colsFn, [xa, rb, panel, rb, steps, ep, rows], N, grainFor(rows * pk.kp));
  };
}

/**
 * Counters for tests and profiling: popcount GEMM calls per mode, and QConv nodes compiled
 * onto the SIMD depthwise kernel (depthwiseNodes) and onto its channel-vectorized
 * variant (depthwiseC8Nodes).
 *
 * @example
 * ```ts
 * const before = binaryCalls.pm1; // ... run ...; binaryCalls.pm1 - before
 * ```
 */
export const binaryCalls: {
  pm1: number;
  codes2: number;
  depthwiseNodes: number;
  depthwiseC8Nodes: number;
} = {
  pm1: 0,
  codes2: 0,
  depthwiseNodes: 0,
  depthwiseC8Nodes: 0,
};

/**
 * The XNOR/AND-popcount path of a b1 QGemm (as/binary.ts): activation rows become bit
 * planes — 2-bit codes 0..3 (uint8 X, mode 2) or ±1 (int8 X, mode 1, else mode 2) —
 * checked while packing; `run` returns false when a value does not fit (the caller then
 * takes the int8 path, so the bits are always the reference's).
 */
function binaryGemm(
  c: CompileCtx,
  w: Int8Array,
  n: number,
  k: number,
  rows: number,
  xdt: QDType,
  ep: number,
  off: number,
) {
  const vw = Math.ceil(k / 128), pb = vw * 16;
  const bits = new Uint8Array(n * pb), wsum = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const v = w[i * k + j];
      wsum[i] += v;
      if (v > 0) bits[i * pb + (j >> 3)] |= 1 << (j & 7);
    }
  }
  const wp = c.arena.put(bits), ws = c.arena.i32(wsum);
  const aBytes = roundUp(rows * 2 * pb, 16), popBytes = roundUp(rows * 8, 16);
  const xs = signedOf(xdt);
  const modes = xdt === "int8" ? [1, 2] : [2];
  return {
    // the per-thread tile sums: 128 bytes each from a 64-byte boundary (no cache line shared
    // by two threads: they are stored and reloaded once per tile)
    scratchBytes: aBytes + popBytes + 16 + 64 + BGEMM_TMP * c.threads,
    run(env: RunEnv, xAddr: number): boolean {
      const a = env.scratch + off, pop = a + aBytes, bad = pop + popBytes;
      const tmp = roundUp(bad + 16, 64);
      for (const mode of modes) {
        env.i32()[bad >> 2] = 0;
        env.par("pack_bits", [xAddr, xs, k, vw, mode, a, pop, bad], rows, grainFor(k));
        if (env.i32()[bad >> 2]) continue;
        env.par("bgemm_rows", [a, pop, wp, ws, vw, mode, n, ep, tmp], rows, grainFor(n * vw * 16));
        binaryCalls[mode === 1 ? "pm1" : "codes2"]++;
        return true;
      }
      return false;
    },
  };
}

/**
 * The period with which an operand of shape `s` repeats over an output of shape `y`
 * (its size), when its shape without leading 1s equals the output's trailing dims; -1
 * for other broadcasts.
 *
 * @example
 * ```ts
 * periodOf([1, 50, 64], [8, 50, 64]); // 3200
 * periodOf([3, 1], [2, 3, 4]); // -1
 * ```
 */
export function periodOf(s: number[], y: number[]): number {
  let i = 0;
  while (i < s.length && s[i] === 1) i++;
  const tail = s.slice(i);
  if (tail.length > y.length) return -1;
  const yt = y.slice(y.length - tail.length);
  return tail.every((d, j) => d === yt[j]) ? size(tail) : -1;
}

/**
 * The QAdd parameters of a node's attributes: operands a and b read from the attribute
 * prefixes `pa` / `pb` (`a`/`b` for QAdd, `c`/`r` for QConv's fused residual add) with
 * dtypes `adt` / `bdt`, output y of dtype `ydt`; periods `ab` / `bb` (see qaddRecord).
 */
function qaddParams(
  c: CompileCtx,
  [pa, adt]: [string, QDType],
  [pb, bdt]: [string, QDType],
  ydt: QDType,
  ab: number,
  bb: number,
): Record<string, number> {
  const at = c.node.attrs;
  const ma = readMultipliers(c.op, at, `${pa}_mult`, `${pa}_shift`, 1);
  const mb = readMultipliers(c.op, at, `${pb}_mult`, `${pb}_shift`, 1);
  const my = readMultipliers(c.op, at, "y_mult", "y_shift", 1);
  const [qmin, qmax] = readClamp(c.op, at, ydt);
  return {
    as: signedOf(adt),
    bs: signedOf(bdt),
    azp: readZp(c.op, at, `${pa}_zp`, adt),
    bzp: readZp(c.op, at, `${pb}_zp`, bdt),
    am: ma.mult[0],
    ash: ma.shift[0],
    bm: mb.mult[0],
    bsh: mb.shift[0],
    ym: my.mult[0],
    ysh: my.shift[0],
    yzp: readZp(c.op, at, "y_zp", ydt),
    qmin,
    qmax,
    bb,
    ab,
  };
}

/** QAdd record (as/elem.ts qadd): ..., the periods of b and a, then 2^10 × 4 at word 16. */
function qaddRecord(c: CompileCtx, p: Record<string, number>): number {
  return c.arena.i32([
    p.as,
    p.bs,
    p.azp,
    p.bzp,
    p.am,
    p.ash,
    p.bm,
    p.bsh,
    p.ym,
    p.ysh,
    p.yzp,
    p.qmin,
    p.qmax,
    p.bb,
    p.ab,
    0,
    1024,
    1024,
    1024,
    1024,
  ]);
}

/**
 * `lut`: a QAdd of same-shape operands with at least `lutMin` elements runs through a
 * 64 KiB table of every code pair (as/elem.ts qadd_lut), built here from the reference
 * arithmetic ({@link qaddTable}); smaller ones, broadcasts and all with `lut` off on the
 * SIMD arithmetic (as/elem.ts qadd). In-process A/B, 1 thread (bench/wasm_ab.ts --switch
 * lut): vit_tiny's 25 adds of 197·192 summed 1.18 -> 0.90 ms per run with the table;
 * ViT op17's 9 adds of 50·64 0.045 (arithmetic) vs 0.046..0.051 ms (table: a cold 64 KiB
 * table does not pay off over 3200 elements), while the kernel alone (hot table) was
 * about twice as fast at every size from 3200 to 112·112·16 elements.
 */
export const qaddOptions: { lut: boolean; lutMin: number } = { lut: true, lutMin: 1 << 14 };

/**
 * The pair table of a QAdd: `T[(a & 255) << 8 | (b & 255)]` = the output code of codes a, b
 * (kernels/ref/quant/requant.ts quantizedAdd: `G(sa + sb)` with `sa = MBQM(da·2^20, a)`,
 * `sb = MBQM(db·2^20, b)`, `G(s) = requantize(sat32(s), y…)`). Every multiplier is >= 0,
 * so sa, sb and G are non-decreasing; G is read off its thresholds `θ_ℓ = min{s : G(s) >= ℓ}`
 * (binary searches over the reachable sums, a few thousand G calls instead of 65536
 * quantizedAdd calls), walking each row of b in increasing order.
 *
 * @example
 * ```ts
 * const t = qaddTable(p, "uint8", "uint8"); // 65536 bytes
 * ```
 */
export function qaddTable(p: Record<string, number>, adt: QDType, bdt: QDType): Uint8Array {
  const [alo] = qRange(adt), [blo] = qRange(bdt);
  const sa = new Float64Array(256), sb = new Float64Array(256);
  for (let v = 0; v < 256; v++) {
    sa[v] = multiplyByQuantizedMultiplier((alo + v - p.azp) * (1 << ADD_LEFT_SHIFT), p.am, p.ash);
    sb[v] = multiplyByQuantizedMultiplier((blo + v - p.bzp) * (1 << ADD_LEFT_SHIFT), p.bm, p.bsh);
  }
  const g = (s: number) => requantize(sat32(s), p.ym, p.ysh, p.yzp, p.qmin, p.qmax);
  const smin = sa[0] + sb[0], smax = sa[255] + sb[255], g0 = g(smin);
  const th: number[] = [];
  for (let level = g0 + 1, top = g(smax); level <= top; level++) {
    let lo = th.length ? th[th.length - 1] : smin, hi = smax;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (g(mid) >= level) hi = mid;
      else lo = mid + 1;
    }
    th.push(lo);
  }
  const t = new Uint8Array(65536);
  for (let va = 0; va < 256; va++) {
    const row = ((alo + va) & 255) << 8;
    let k = 0;
    for (let vb = 0; vb < 256; vb++) {
      const s = sa[va] + sb[vb];
      while (k < th.length && th[k] <= s) k++;
      t[row | ((blo + vb) & 255)] = g0 + k;
    }
  }
  return t;
}

/**
 * QAdd: same shapes, or one side a single value.
 *
 * @example
 * ```ts
 * const step = compileQAdd(ctx);
 * ```
 */
export function compileQAdd(c: CompileCtx): Step | undefined {
  const { node } = c;
  const [A, B] = node.inputs, y = node.outputs[0];
  const am = c.meta(A), bm = c.meta(B), ym = c.meta(y);
  const n = size(ym.shape);
  const pa = periodOf(am.shape, ym.shape), pb = periodOf(bm.shape, ym.shape);
  if (pa < 0 || pb < 0) return undefined;
  const adt = am.dtype as QDType, bdt = bm.dtype as QDType, ydt = ym.dtype as QDType;
  const p = qaddParams(c, ["a", adt], ["b", bdt], ydt, pa, pb);
  // 64 KiB of arena per node with a table
  const lut = qaddOptions.lut && pa >= n && pb >= n && n >= qaddOptions.lutMin;
  const rec = lut ? c.arena.put(qaddTable(p, adt, bdt)) : qaddRecord(c, p);
  const ca = c.constant(A), cb = c.constant(B);
  const ka = ca ? c.arena.put(ca.data) : -1, kb = cb ? c.arena.put(cb.data) : -1;
  return (env) => {
    env.par(
      lut ? "qadd_lut" : "qadd",
      [
        ka >= 0 ? ka : env.addr(A),
        kb >= 0 ? kb : env.addr(B),
        env.addr(y),
        rec,
      ],
      n,
      lut ? QADD_LUT_GRAIN : ELEM_GRAIN,
    );
  };
}

/**
 * Elements per part of the table QAdd: about 1 ns each here (8 scalar table reads per 8),
 * several times the cost of a cheap elementwise element, so ViT-tiny's adds (197·192) split.
 */
const QADD_LUT_GRAIN = 1 << 13;

/**
 * The output of a skipped residual join (kernels/ref/quant/skip.ts): the body operand is
 * a real zero (its zero point), so the join requantizes the shortcut alone.
 *
 * @example
 * ```ts
 * const skip = compileSkippedJoin(ctx, block.bodyInput, block.shortcut);
 * ```
 */
export function compileSkippedJoin(c: CompileCtx, bodyInput: number, shortcut: string): Step {
  const { node } = c;
  const y = node.outputs[0];
  const ym = c.meta(y), sm = c.meta(shortcut);
  const n = size(ym.shape);
  const ydt = ym.dtype as QDType;
  if (node.op === "Add") {
    const bytes = n * elemBytes(ym.dtype);
    return (env) => {
      env.u8().copyWithin(
        env.addr(y),
        env.addr(shortcut),
        env.addr(shortcut) + bytes,
      );
    };
  }
  // QAdd(body = zp, shortcut) or QConv's fused add with C = c_zp.
  const sdt = sm.dtype as QDType;
  let p: Record<string, number>;
  if (node.op === "QAdd") {
    const adt = c.meta(node.inputs[0]).dtype as QDType,
      bdt = c.meta(node.inputs[1]).dtype as QDType;
    p = qaddParams(c, ["a", adt], ["b", bdt], ydt, n, n);
  } else {
    p = qaddParams(c, ["c", ydt], ["r", sdt], ydt, n, n);
    bodyInput = 0;
  }
  // The body side reads a single byte holding its zero point.
  const zpByte = c.arena.alloc(16);
  const bodyZp = bodyInput === 0 ? p.azp : p.bzp;
  new Uint8Array(c.arena.buffer, zpByte, 1)[0] = bodyZp & 255;
  if (bodyInput === 0) p.ab = 1;
  else p.bb = 1;
  const rec = qaddRecord(c, p);
  return (env) => {
    const s = env.addr(shortcut);
    const [pa, pb] = bodyInput === 0 ? [zpByte, s] : [s, zpByte];
    env.par("qadd", [pa, pb, env.addr(y), rec], n, ELEM_GRAIN);
  };
}

/**
 * QRelu.
 *
 * @example
 * ```ts
 * const step = compileQRelu(ctx);
 * ```
 */
export function compileQRelu(c: CompileCtx): Step {
  const [x] = c.node.inputs, y = c.node.outputs[0];
  const m = c.meta(x);
  const dt = m.dtype as QDType;
  const zp = readZp(c.op, c.node.attrs, "zero_point", dt);
  const n = size(m.shape);
  return (env) => env.par("qrelu", [env.addr(x), signedOf(dt), zp, env.addr(y)], n, ELEM_GRAIN);
}

/**
 * QMaxPool / QAveragePool (1-D and 2-D).
 *
 * @example
 * ```ts
 * const step = compilePool(ctx, true); // QAveragePool
 * ```
 */
export function compilePool(c: CompileCtx, avg: boolean): Step | undefined {
  const { node } = c;
  const a = node.attrs;
  const [x] = node.inputs, y = node.outputs[0];
  const m = c.meta(x);
  if (m.shape.length !== 3 && m.shape.length !== 4) return undefined;
  const kernel = attrInts(a, "kernel_shape");
  if (!kernel) return undefined;
  const ceil = attrFlag(c.op, a.ceil_mode, "ceil_mode", 0) === 1;
  const win = lift2d(slidingWindow(c.op, a, m.shape.slice(2), kernel, ceil));
  const dt = m.dtype as QDType;
  const zp = avg ? readZp(c.op, a, "zero_point", dt) : 0;
  const inc = avg && attrFlag(c.op, a.count_include_pad, "count_include_pad", 0) === 1 ? 1 : 0;
  const pg = c.arena.i32([
    win.inSize[0],
    win.inSize[1],
    win.kernel[0],
    win.kernel[1],
    win.strides[0],
    win.strides[1],
    win.dilations[0],
    win.dilations[1],
    win.padBegin[0],
    win.padBegin[1],
    win.padEnd[0],
    win.padEnd[1],
    win.outSize[0],
    win.outSize[1],
    inc,
  ]);
  const planes = m.shape[0] * m.shape[1];
  const [H, W] = win.inSize, [kh, kw] = win.kernel, [sh, sw] = win.strides;
  const [dh, dw] = win.dilations, [ph, pw] = win.padBegin, [oh, ow] = win.outSize;
  if (!avg && (sw === 1 || sw === 2)) {
    const hp = Math.max(H + ph, (oh - 1) * sh + (kh - 1) * dh + 1);
    const wp = Math.max(W + pw, (ow - 1) * sw + (kw - 1) * dw + 1);
    const sstride = roundUp(hp * wp + 64, 16) + 64;
    c.scratch(c.threads * sstride);
    const rec = c.arena.i32([
      H,
      W,
      kh,
      kw,
      sh,
      sw,
      dh,
      dw,
      ph,
      pw,
      oh,
      ow,
      hp,
      wp,
      signedOf(dt),
      0,
      sstride,
    ]);
    return (env) => {
      env.i32()[(rec >> 2) + 15] = env.scratch;
      env.par(
        "maxpool_simd",
        [env.addr(x), env.addr(y), rec],
        planes,
        grainFor(H * W + oh * ow * kh * kw / 16),
      );
    };
  }
  return (env) =>
    env.par(
      "pool",
      [env.addr(x), signedOf(dt), zp, avg ? 1 : 0, pg, env.addr(y)],
      planes,
      grainFor(oh * ow * kh * kw),
    );
}

/**
 * QGlobalAveragePool.
 *
 * @example
 * ```ts
 * const step = compileGap(ctx);
 * ```
 */
export function compileGap(c: CompileCtx): Step {
  const [x] = c.node.inputs, y = c.node.outputs[0];
  const m = c.meta(x);
  const dt = m.dtype as QDType;
  const zp = readZp(c.op, c.node.attrs, "zero_point", dt);
  const planes = m.shape[0] * m.shape[1], sp = size(m.shape.slice(2));
  return (env) =>
    env.par("gap", [env.addr(x), signedOf(dt), zp, sp, env.addr(y)], planes, grainFor(sp));
}

function readScale(c: CompileCtx): number | undefined {
  const s = Math.fround(Number(c.node.attrs.scale));
  return s > 0 && Number.isFinite(s) ? s : undefined;
}

/**
 * QuantizeLinear8 (float32 → 8-bit).
 *
 * @example
 * ```ts
 * const step = compileQuantize(ctx);
 * ```
 */
export function compileQuantize(c: CompileCtx): Step | undefined {
  const [x] = c.node.inputs, y = c.node.outputs[0];
  const scale = readScale(c);
  if (scale === undefined || c.meta(x).dtype !== "float32") return undefined;
  const dt = c.meta(y).dtype as QDType;
  const zp = readZp(c.op, c.node.attrs, "zero_point", dt);
  const [lo, hi] = qRange(dt);
  const n = size(c.meta(x).shape);
  const cp = c.arena.put(QUANTIZE_CONSTS);
  return (env) =>
    env.par("quantize", [env.addr(x), scale, zp, lo, hi, env.addr(y), cp], n, ELEM_GRAIN);
}

/**
 * The quantize kernel's constants (as/elem.ts quantize), f32 lanes by their bits: −0.0,
 * 0.5 − 2^−25 and 1.5·2^23, each splatted.
 */
const QUANTIZE_CONSTS = new Uint32Array(
  [0x80000000, 0x3effffff, 0x4b400000].flatMap((b) => [b, b, b, b]),
);

/**
 * DequantizeLinear8 (8-bit → float32).
 *
 * @example
 * ```ts
 * const step = compileDequantize(ctx);
 * ```
 */
export function compileDequantize(c: CompileCtx): Step | undefined {
  const [x] = c.node.inputs, y = c.node.outputs[0];
  const scale = readScale(c);
  if (scale === undefined) return undefined;
  const dt = c.meta(x).dtype as QDType;
  const zp = readZp(c.op, c.node.attrs, "zero_point", dt);
  const n = size(c.meta(x).shape);
  return (env) =>
    env.par("dequantize", [env.addr(x), signedOf(dt), scale, zp, env.addr(y)], n, ELEM_GRAIN);
}
