/**
 * QConv and QGemm on WebGPU: one tiled implicit-GEMM shader generator for int8, packed
 * int4/int2 (`w_layout` i4/i2, read packed) and binary (`w_layout` b1) weights, with the
 * requantize / bias / clamp / residual epilogue of kernels/ref/quant/qconv.ts.
 *
 * int8 / int4 / int2 (kernel `qgemm_s8_dot4` or `qgemm_s8_unpack`): the reduction runs
 * on 4-lane int8 words. An activation `x` enters as `x − o` (o = 128 for uint8, 0 for
 * int8), which always fits int8; padding taps enter as `x_zp − o` (they hold the real
 * 0). Then `Σ (x − x_zp)·w = Σ (x − o)·w + (o − x_zp)·Σw`, with `Σw` per output channel
 * precomputed at compile. The partial sums are bounded by 2^30 and the corrected sum by
 * the reference's bound (< 2^31), so WGSL's wrapping i32 arithmetic gives the exact
 * value. Tiles of activations (im2col on the fly) and weights go through workgroup
 * memory; tile sizes follow the adapter's limits ({@link chooseTiles}).
 *
 * Binary (kernel `qgemm_b1_popcount`): weights are ±1 bits (1 = +1) packed along K in
 * 32-bit words. Each 32-tap activation word `x − x_zp` (padding 0) is split into 9
 * two's-complement bit planes P_b (weights 2^b, and −256 for b = 8), and
 * `Σ x·w = Σ_b c_b·(2·popcount(P_b AND W) − popcount(P_b))`, exactly the reference
 * accumulator; all-zero planes (e.g. the upper bits of 2-bit HWGQ codes) are skipped.
 *
 * @example
 * ```ts
 * const lowered = lowerQConv(ctx); // { dispatches: [{ code, bindings, groups }] }
 * ```
 * @module
 */
import type { Node } from "../../runtime/graph.ts";
import { size, type Tensor } from "../../runtime/tensor.ts";
import type { OpContext } from "../ref/op.ts";
import { lift2d, slidingWindow } from "../ref/nn_window.ts";
import { readGroup } from "../ref/conv.ts";
import {
  type QDType,
  qRange,
  readClamp,
  readMultipliers,
  readQDType,
  readWeight,
  readZp,
} from "../ref/quant/qutil.ts";
import { bind, type Dispatch, type LowerCtx, type Lowered, unsupported } from "./kernel.ts";
import { WGSL_REQUANT, wgslDot4 } from "./wgsl_int.ts";

/** Tile shape of the GEMM kernels: TX×TY threads, each RP positions × RM channels. */
export interface Tiles {
  tx: number;
  ty: number;
  rp: number;
  rm: number;
  /** K words per step (4 taps each for int8, 32 for binary). */
  tkw: number;
}

function pow2AtLeast(n: number, cap: number): number {
  let p = 1;
  while (p < n && p < cap) p *= 2;
  return p;
}

/**
 * Picks tile sizes for a layer with `mg` output channels per group, `p` output
 * positions and `kWords` reduction words, within the device limits (invocations per
 * workgroup, workgroup storage).
 *
 * @example
 * ```ts
 * chooseTiles(device.limits, 64, 784, 144, false); // { tx: 8, ty: 8, rp: 4, rm: 4, tkw: 8 }
 * ```
 */
export function chooseTiles(
  limits: GPUSupportedLimits,
  mg: number,
  p: number,
  kWords: number,
  binary: boolean,
): Tiles {
  const maxInv = Math.min(limits.maxComputeInvocationsPerWorkgroup, 256);
  const tm = pow2AtLeast(mg, 32), tp = pow2AtLeast(p, binary ? 32 : 64);
  const rm = Math.min(4, tm), rp = Math.min(4, tp);
  let ty = tm / rm, tx = tp / rp;
  while (tx * ty > maxInv) tx > 1 ? tx /= 2 : ty /= 2;
  const perWord = binary ? 9 : 1;
  let tkw = Math.min(pow2AtLeast(kWords, binary ? 2 : 8), binary ? 2 : 8);
  const bytes = (t: number) => (t * tx * rp * perWord + ty * rm * t) * 4;
  while (tkw > 1 && bytes(tkw) > limits.maxComputeWorkgroupStorageSize) tkw /= 2;
  return { tx, ty, rp, rm, tkw };
}

/** Everything the shader needs about one QConv/QGemm layer. */
interface Layer {
  conv: boolean;
  n: number;
  c: number;
  h: number;
  w: number;
  m: number;
  group: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  ph: number;
  pw: number;
  oh: number;
  ow: number;
  /** Reduction length per group. */
  k: number;
  /** Output positions (N·OH·OW for a conv, the rows for a gemm). */
  p: number;
  xZp: number;
  xdt: QDType;
  layout: string;
}

function opContext(ctx: LowerCtx): OpContext {
  return { node: ctx.node, opset: ctx.graph.opset };
}

function layerOf(ctx: LowerCtx, conv: boolean): Layer {
  const node = ctx.node, oc = opContext(ctx);
  const x = ctx.meta(node.inputs[0]);
  const wc = ctx.constant(node.inputs[1]);
  if (!wc) unsupported(ctx, "QConv/QGemm weights must be a constant on webgpu");
  const wl = readWeight(oc, { dtype: wc.dtype, shape: wc.shape }, node.attrs);
  const layout = (node.attrs.w_layout ?? "i8") as string;
  const xdt = x.dtype as QDType;
  const xZp = readZp(oc, node.attrs, "x_zp", xdt);
  if (!conv) {
    const [m, k] = wl.shape;
    return {
      conv,
      n: 1,
      c: k,
      h: 1,
      w: 1,
      m,
      group: 1,
      kh: 1,
      kw: 1,
      sh: 1,
      sw: 1,
      dh: 1,
      dw: 1,
      ph: 0,
      pw: 0,
      oh: 1,
      ow: 1,
      k,
      p: size(x.shape) / k,
      xZp,
      xdt,
      layout,
    };
  }
  const group = readGroup(oc, node.attrs);
  const win = lift2d(slidingWindow(oc, node.attrs, x.shape.slice(2), wl.shape.slice(2), false));
  const [n, c] = x.shape;
  const m = wl.shape[0];
  const [h, w] = win.inSize, [kh, kw] = win.kernel, [oh, ow] = win.outSize;
  return {
    conv,
    n,
    c,
    h,
    w,
    m,
    group,
    kh,
    kw,
    sh: win.strides[0],
    sw: win.strides[1],
    dh: win.dilations[0],
    dw: win.dilations[1],
    ph: win.padBegin[0],
    pw: win.padBegin[1],
    oh,
    ow,
    k: (c / group) * kh * kw,
    p: n * oh * ow,
    xZp,
    xdt,
    layout,
  };
}

/** Per-channel words `[bias, mult, shift, Σw]` and the weight buffer. */
function prepareWeights(
  ctx: LowerCtx,
  L: Layer,
): { chan: Int32Array; weights: Uint32Array } {
  const node = ctx.node, oc = opContext(ctx);
  const wc = ctx.constant(node.inputs[1])!;
  const logical = readWeight(oc, wc, node.attrs) as Tensor; // unpacked int8 values
  const wv = logical.data as Int8Array;
  const b = node.inputs[2] ? ctx.constant(node.inputs[2]) : undefined;
  if (node.inputs[2] && !b) unsupported(ctx, "the bias must be a constant on webgpu");
  const { mult, shift } = readMultipliers(oc, node.attrs, "mult", "shift", L.m);
  const chan = new Int32Array(L.m * 4);
  for (let m = 0; m < L.m; m++) {
    let s = 0;
    for (let j = 0; j < L.k; j++) s += wv[m * L.k + j];
    chan.set([b ? (b.data as Int32Array)[m] : 0, mult[m], shift[m], s], m * 4);
  }
  let weights: Uint32Array;
  if (L.layout === "i8") {
    const kw4 = Math.ceil(L.k / 4);
    const bytes = new Uint8Array(L.m * kw4 * 4);
    for (let m = 0; m < L.m; m++) {
      for (let j = 0; j < L.k; j++) bytes[m * kw4 * 4 + j] = wv[m * L.k + j] & 0xff;
    }
    weights = new Uint32Array(bytes.buffer);
  } else {
    const raw = wc.data as Uint8Array;
    const bytes = new Uint8Array(Math.max(4, Math.ceil(raw.length / 4) * 4));
    bytes.set(raw);
    weights = new Uint32Array(bytes.buffer);
  }
  return { chan, weights };
}

interface Epilogue {
  decls: string;
  body: string;
}

function epilogue(ctx: LowerCtx, L: Layer, xsub: number, binding: number): Epilogue {
  const node = ctx.node, oc = opContext(ctx), a = node.attrs;
  const ydt = readQDType(oc, a, L.xdt);
  const yZp = readZp(oc, a, "y_zp", ydt);
  const [qmin, qmax] = readClamp(oc, a, ydt);
  const res = L.conv && node.inputs[3] ? node.inputs[3] : undefined;
  const idx = L.conv
    ? `let idx = ((p / ${L.oh * L.ow}u) * ${L.m}u + m) * ${L.oh * L.ow}u + p % ${L.oh * L.ow}u;`
    : `let idx = p * ${L.m}u + m;`;
  const head = `
  ${idx}
  let ch = m * 4u;
  // exact Σ(x − x_zp)·w (wrapping i32 arithmetic; the true value fits int32)
  let acc = s + ${xsub - L.xZp} * chan[ch + 3u];
  let av = sat_add(acc, chan[ch]);`;
  if (!res) {
    return {
      decls: "",
      body: `${head}
  y[idx] = requantize(av, chan[ch + 1u], chan[ch + 2u], ${yZp}, ${qmin}, ${qmax});`,
    };
  }
  const rdt = ctx.meta(res).dtype as QDType;
  const one = (mn: string, sn: string) => {
    const q = readMultipliers(oc, a, mn, sn, 1);
    return `${q.mult[0]}, ${q.shift[0]}`;
  };
  const cZp = readZp(oc, a, "c_zp", ydt), rZp = readZp(oc, a, "r_zp", rdt);
  const [dlo, dhi] = qRange(ydt);
  return {
    decls: bind(binding, "r", "i32", "read"),
    body: `${head}
  let cv = requantize(av, chan[ch + 1u], chan[ch + 2u], ${cZp}, ${dlo}, ${dhi});
  y[idx] = quantized_add(cv - ${cZp}, r[idx] - ${rZp}, ${one("c_mult", "c_shift")},
    ${one("r_mult", "r_shift")}, ${one("y_mult", "y_shift")}, ${yZp}, ${qmin}, ${qmax});`,
  };
}

/** WGSL of `xget(k, p, g)`: the activation at tap k of position p in group g, minus xsub. */
function xgetFn(L: Layer, xsub: number): string {
  const padv = L.xZp - xsub;
  if (!L.conv) {
    return `fn xget(k: u32, p: u32, g: u32) -> i32 {
  if (k >= ${L.k}u || p >= ${L.p}u) { return 0; }
  return x[p * ${L.k}u + k] - ${xsub};
}`;
  }
  const khw = L.kh * L.kw, ohw = L.oh * L.ow, cg = L.c / L.group;
  return `fn xget(k: u32, p: u32, g: u32) -> i32 {
  if (k >= ${L.k}u || p >= ${L.p}u) { return 0; }
  let c = k / ${khw}u; let r = k % ${khw}u;
  let ky = r / ${L.kw}u; let kx = r % ${L.kw}u;
  let n = p / ${ohw}u; let pix = p % ${ohw}u;
  let iy = i32((pix / ${L.ow}u) * ${L.sh}u + ky * ${L.dh}u) - ${L.ph};
  let ix = i32((pix % ${L.ow}u) * ${L.sw}u + kx * ${L.dw}u) - ${L.pw};
  if (iy < 0 || iy >= ${L.h} || ix < 0 || ix >= ${L.w}) { return ${padv}; }
  return x[((n * ${L.c}u + g * ${cg}u + c) * ${L.h}u + u32(iy)) * ${L.w}u + u32(ix)] - ${xsub};
}`;
}

/** WGSL of `wword(m, kw)`: word kw (4 int8 lanes) of output channel m's weight row. */
function wwordFn(L: Layer): string {
  const kw4 = Math.ceil(L.k / 4);
  if (L.layout === "i8") return `fn wword(m: u32, kw: u32) -> u32 { return wt[m * ${kw4}u + kw]; }`;
  const bits = L.layout === "i4" ? 4 : 2;
  const rowBits = Math.ceil((L.k * bits) / 8) * 8;
  const mask = (1 << bits) - 1, sign = 1 << (bits - 1);
  return `fn wcode(m: u32, k: u32) -> i32 {
  if (k >= ${L.k}u) { return 0; }
  let bit = m * ${rowBits}u + k * ${bits}u;
  let code = i32((wt[bit >> 5u] >> (bit & 31u)) & ${mask}u);
  return (code ^ ${sign}) - ${sign};
}
fn wword(m: u32, kw: u32) -> u32 {
  let k = kw * 4u;
  return pack4(vec4<i32>(wcode(m, k), wcode(m, k + 1u), wcode(m, k + 2u), wcode(m, k + 3u)));
}`;
}

function gemmShader(L: Layer, t: Tiles, dot4: boolean, ep: Epilogue, binary: boolean): string {
  const mg = L.m / L.group;
  const tp = t.tx * t.rp, tm = t.ty * t.rm, nt = t.tx * t.ty;
  const kWords = binary ? Math.ceil(L.k / 32) : Math.ceil(L.k / 4);
  const xsub = binary ? L.xZp : (L.xdt === "uint8" ? 128 : 0);
  const planes = binary ? 9 : 1;
  const loadX = binary
    ? `
      var pl = array<u32, 9>();
      for (var j = 0u; j < 32u; j++) {
        let v = u32(xget(k + j, p, g)) & 0x1ffu;
        for (var b = 0u; b < 9u; b++) { pl[b] = pl[b] | (((v >> b) & 1u) << j); }
      }
      for (var b = 0u; b < 9u; b++) { xs[e * 9u + b] = pl[b]; }`
    : `
      xs[e] = pack4(vec4<i32>(xget(k, p, g), xget(k + 1u, p, g), xget(k + 2u, p, g),
        xget(k + 3u, p, g)));`;
  const inner = binary
    ? `
          let base = (kw * ${tp}u + lid.x + j * ${t.tx}u) * 9u;
          var s = 0;
          for (var b = 0u; b < 9u; b++) {
            let pb = xs[base + b];
            if (pb != 0u) {
              let d = 2 * i32(countOneBits(pb & a)) - i32(countOneBits(pb));
              if (b == 8u) { s = s - (d << 8u); } else { s = s + (d << b); }
            }
          }
          acc[i * ${t.rp}u + j] += s;`
    : `
          acc[i * ${t.rp}u + j] += dot4(a, xs[kw * ${tp}u + lid.x + j * ${t.tx}u]);`;
  const wload = binary
    ? `wt[(g * ${mg}u + ml) * ${kWords}u + kt + kw]`
    : `wword(g * ${mg}u + ml, kt + kw)`;
  return `${bind(0, "x", "i32", "read")}
${bind(1, "wt", "u32", "read")}
${bind(2, "chan", "i32", "read")}
${bind(3, "y", "i32", "read_write")}
${ep.decls}
${WGSL_REQUANT}
${binary ? "" : wgslDot4(dot4)}
${xgetFn(L, xsub)}
${binary ? "" : wwordFn(L)}
var<workgroup> xs: array<u32, ${t.tkw * tp * planes}>;
var<workgroup> ws: array<u32, ${tm * t.tkw}>;

fn store(m: u32, p: u32, s: i32) {${ep.body}
}

@compute @workgroup_size(${t.tx}, ${t.ty})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let g = wid.z;
  let p0 = wid.x * ${tp}u;
  let m0 = wid.y * ${tm}u;
  let t = lid.y * ${t.tx}u + lid.x;
  var acc: array<i32, ${t.rm * t.rp}>;
  for (var kt = 0u; kt < ${kWords}u; kt += ${t.tkw}u) {
    for (var e = t; e < ${t.tkw * tp}u; e += ${nt}u) {
      let k = (kt + e / ${tp}u) * ${binary ? 32 : 4}u;
      let p = p0 + e % ${tp}u;${loadX}
    }
    for (var e = t; e < ${tm * t.tkw}u; e += ${nt}u) {
      let ml = m0 + e / ${t.tkw}u;
      let kw = e % ${t.tkw}u;
      var wv = 0u;
      if (ml < ${mg}u && kt + kw < ${kWords}u) { wv = ${wload}; }
      ws[e] = wv;
    }
    workgroupBarrier();
    for (var kw = 0u; kw < ${t.tkw}u; kw++) {
      for (var i = 0u; i < ${t.rm}u; i++) {
        let a = ws[(lid.y + i * ${t.ty}u) * ${t.tkw}u + kw];
        for (var j = 0u; j < ${t.rp}u; j++) {${inner}
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${t.rm}u; i++) {
    let ml = m0 + lid.y + i * ${t.ty}u;
    for (var j = 0u; j < ${t.rp}u; j++) {
      let p = p0 + lid.x + j * ${t.tx}u;
      if (ml < ${mg}u && p < ${L.p}u) { store(g * ${mg}u + ml, p, acc[i * ${t.rp}u + j]); }
    }
  }
}
`;
}

/** The kernel name a QConv/QGemm node gets (XNNPACK style: datatype, op, ISA). */
export function qgemmKernelName(node: Node, dot4: boolean): string {
  const layout = (node.attrs.w_layout ?? "i8") as string;
  if (layout === "b1") return "qgemm_b1_popcount";
  const w = layout === "i8" ? "s8" : layout === "i4" ? "s4" : "s2";
  return `qgemm_${w}_${dot4 ? "dot4" : "unpack"}`;
}

function lower(ctx: LowerCtx, conv: boolean): Lowered {
  const L = layerOf(ctx, conv);
  const binary = L.layout === "b1";
  const mg = L.m / L.group;
  const kWords = binary ? Math.ceil(L.k / 32) : Math.ceil(L.k / 4);
  const t = chooseTiles(ctx.limits, mg, L.p, kWords, binary);
  const xsub = binary ? L.xZp : (L.xdt === "uint8" ? 128 : 0);
  const ep = epilogue(ctx, L, xsub, 4);
  const { chan, weights } = prepareWeights(ctx, L);
  const groups: [number, number, number] = [
    Math.ceil(L.p / (t.tx * t.rp)),
    Math.ceil(mg / (t.ty * t.rm)),
    L.group,
  ];
  if (groups.some((g) => g > 65535)) {
    unsupported(ctx, `too many workgroups (${groups}) for one dispatch; use a smaller batch`);
  }
  const node = ctx.node;
  const d: Dispatch = {
    code: gemmShader(L, t, ctx.dot4, ep, binary),
    bindings: [
      { value: node.inputs[0] },
      { data: weights, label: `${node.name}:w` },
      { data: chan, label: `${node.name}:chan` },
      { value: node.outputs[0] },
      ...(ep.decls ? [{ value: node.inputs[3] }] : []),
    ],
    groups,
  };
  return { dispatches: [d] };
}

/**
 * Lowers a QConv node (1-D/2-D, grouped/depthwise, strided, padded, dilated, optional
 * fused residual; int8/int4/int2/binary weights).
 *
 * @example
 * ```ts
 * const { dispatches } = lowerQConv(ctx) as { dispatches: Dispatch[] };
 * ```
 */
export function lowerQConv(ctx: LowerCtx): Lowered {
  return lower(ctx, true);
}

/**
 * Lowers a QGemm node (`X[..., K] × W[N, K]ᵀ`; int8/int4/int2/binary weights).
 *
 * @example
 * ```ts
 * const { dispatches } = lowerQGemm(ctx) as { dispatches: Dispatch[] };
 * ```
 */
export function lowerQGemm(ctx: LowerCtx): Lowered {
  return lower(ctx, false);
}
