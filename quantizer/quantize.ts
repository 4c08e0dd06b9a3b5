/**
 * Quantizer v1: float ONNX + calibration samples → packed int8 model (.eqp).
 *
 * Lowering, on the BN-folded, constant-folded float graph:
 * - Conv / Gemm with constant weights → QConv / QGemm: int8 weights symmetric per output
 *   channel, int32 bias in units of sx·sw, fixed-point requantization; a following Relu
 *   that is the sole consumer is fused as the clamp `qmin = y_zp`.
 * - Add of two activations → QAdd (TFLite scheme), Relu fused the same way.
 * - MaxPool / AveragePool / GlobalAveragePool / Relu / Flatten on quantized values stay
 *   integer (same parameters as their input).
 * - Transformer islands become integer ops (kernels/ref/quant/README.md): Softmax on the
 *   last axis (with any positive scalar Mul/Div before it folded in) → QSoftmax;
 *   LayerNormalization on the last axis (N ≤ 512; a decomposed op13 LayerNorm is fused
 *   first, fuse_layernorm.ts) → QLayerNorm; and after lowering, every chain
 *   DequantizeLinear8 → elementwise float ops → QuantizeLinear8 (Erf-GELU, Sigmoid, ...)
 *   → one QLut table (table_chains.ts).
 * - Every other op is a float island: DequantizeLinear8 before, QuantizeLinear8 after.
 * Activations are uint8, asymmetric, per tensor; ranges from the chosen estimator
 * (ALGORITHMS.md A, B).
 */
import { EdgeqError } from "../runtime/errors.ts";
import { attrFloat, attrInt, type Attrs, type Graph, type Node } from "../runtime/graph.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { addMultipliers, quantizeMultiplier } from "../kernels/ref/quant/requant.ts";
import { QUANT_DOMAIN } from "../kernels/ref/quant/mod.ts";
import { QSOFTMAX_MAX_N, QSOFTMAX_MAX_R, QSOFTMAX_ONE } from "../kernels/ref/quant/qsoftmax.ts";
import {
  layerNormShift,
  QLAYERNORM_MAX_BIAS,
  QLAYERNORM_MAX_EPS,
  QLAYERNORM_MAX_N,
} from "../kernels/ref/quant/qlayernorm.ts";
import { fuseTableChains } from "./table_chains.ts";
import { fuseLayerNorm } from "./fuse_layernorm.ts";
import { importOnnx } from "./onnx_import.ts";
import { collectStats } from "./calib/collect.ts";
import type { SampleSet } from "./calib/source.ts";
import {
  entropy,
  minMax,
  percentile,
  type QuantParams,
  type RangeEstimator,
  scaleFor,
  varianceClipped,
} from "./calib/estimators.ts";
import type { TensorInput } from "../runtime/format/writer.ts";
import { writePacked } from "../runtime/format/writer.ts";

/** Range estimators selectable by name. */
export const METHODS = {
  variance: varianceClipped,
  minmax: minMax,
  percentile: percentile,
  entropy: entropy,
} as const;

/** A range estimation method name. */
export type Method = keyof typeof METHODS;

/** Options of {@link quantize}. */
export interface QuantizeOptions {
  /** Activation range estimator. Default "variance" (ALGORITHMS.md B). */
  method?: Method;
  /** Calibration batch size. Default 32. */
  batchSize?: number;
  /** Deflate the manifest ("manifest", the default: tensor views stay zero-copy), everything ("all") or nothing ("none"). */
  compress?: "manifest" | "all" | "none";
  /** Extra producer info stored in the file. */
  producer?: Record<string, unknown>;
  /**
   * Fuse a Conv whose sole consumer is a residual Add (and that Add's ReLU) into one
   * QConv with a residual input. Bit-identical to the unfused QConv + QAdd. Default true.
   */
  fuseResidual?: boolean;
  /**
   * Weight bits, 2..8 (symmetric per channel, stored as int8 in [-(2^(b-1)-1), 2^(b-1)-1]).
   * Default 7: the wasm relaxed-SIMD GEMM then takes each weight in one dot instruction (twice
   * the speed of 8-bit weights there); on the Fashion-MNIST fixtures it costs ≤ 0.1 pt of top-1.
   */
  weightBits?: number;
}

/** One quantized layer, as reported by {@link quantize} and stored in the manifest. */
export interface LayerInfo {
  node: string;
  op: string;
  bits: number;
  params: number;
  fused?: string[];
}

/** What {@link quantize} returns. */
export interface QuantizeResult {
  bytes: Uint8Array;
  layers: LayerInfo[];
  floatIslands: string[];
  method: Method;
}

/** The manifest `model` object of an edgeq graph file. */
export interface PackedGraph {
  format: "edgeq-graph";
  name: string;
  opset: number;
  inputs: Graph["inputs"];
  outputs: Graph["outputs"];
  nodes: Node[];
  layers: LayerInfo[];
  /** Quantization parameters of every quantized activation tensor. */
  activations: Record<string, { scale: number; zero_point: number; dtype: string }>;
  method: Method;
  /** Constants stored as f32 whose graph dtype differs (e.g. int64 shape inputs). */
  const_dtypes: Record<string, string>;
}

const F32_EXACT = (x: number) => Math.fround(x);

/**
 * Quantizes a float ONNX model to a packed int8 file.
 *
 * @example
 * ```ts
 * const calib = await loadSamples("tests/fixtures/fmnist_calib", { limit: 512 });
 * const { bytes } = quantize(await Deno.readFile("tests/fixtures/resnet14_op13.onnx"), calib);
 * ```
 */
export function quantize(
  onnxBytes: Uint8Array,
  calib: SampleSet,
  opts: QuantizeOptions = {},
): QuantizeResult {
  const method = opts.method ?? "variance";
  const wBits = opts.weightBits ?? 7;
  if (!Number.isInteger(wBits) || wBits < 2 || wBits > 8) {
    throw new EdgeqError("E_USAGE", `weightBits must be an integer 2..8, got ${wBits}`);
  }
  const est: RangeEstimator | undefined = METHODS[method]?.();
  if (!est) throw new EdgeqError("E_USAGE", `unknown method '${method}'`);
  const g0 = importOnnx(onnxBytes);
  const gp = prepareGraph(g0, { batch: 1 });
  checkBatchAgnostic(g0, gp);
  const allOps = [...new Set(gp.nodes.map((n) => n.op))];
  // A decomposed LayerNorm (opset < 17 exports) becomes one node, lowered like opset 17's.
  const g = fuseLayerNorm(gp);
  const { stats } = collectStats(g0, calib, { ops: allOps, batchSize: opts.batchSize });
  const paramsOf = (t: string): QuantParams => {
    const s = stats.get(t);
    if (!s) throw new EdgeqError("E_DATA", "no calibration statistics", { tensor: t });
    const r = est.estimate(s, { bits: 8 });
    return scaleFor(r, 8, false);
  };
  const lowered = lower(shortcutsFirst(g), paramsOf, {
    fuseResidual: opts.fuseResidual ?? true,
    weightBits: wBits,
  });
  const model: PackedGraph = {
    format: "edgeq-graph",
    name: g.name,
    opset: g.opset,
    inputs: g0.inputs,
    outputs: g0.outputs,
    nodes: lowered.nodes,
    layers: lowered.layers,
    activations: lowered.activations,
    method,
    const_dtypes: lowered.constDtypes,
  };
  const bytes = writePacked({
    model,
    producer: {
      name: "edgeq-quantizer",
      version: "1",
      method,
      calib_samples: calib.n,
      weight_bits: wBits,
      ...opts.producer,
    },
    tensors: lowered.tensors,
  }, { compress: opts.compress === "none" ? false : opts.compress ?? "manifest" });
  return { bytes, layers: lowered.layers, floatIslands: lowered.floatIslands, method };
}

/** Refuses graphs whose folded constants depend on the batch size (e.g. Reshape [1,-1]). */
function checkBatchAgnostic(g0: Graph, g1: Graph) {
  const g2 = prepareGraph(g0, { batch: 2 });
  for (const n of g1.nodes) {
    for (const i of n.inputs) {
      const a = g1.initializers.get(i), b = g2.initializers.get(i);
      if (a && b && (a.data.length !== b.data.length || a.data.some((v, k) => v !== b.data[k]))) {
        throw new EdgeqError(
          "E_UNSUPPORTED_OP",
          "constant depends on the batch size; quantizer v1 needs batch-agnostic graphs",
          { node: n.name, op: n.op, tensor: i },
        );
      }
    }
  }
}

/**
 * Reorders nodes so that every residual block's shortcut path (e.g. a downsampling
 * conv) runs before its body: the body's last conv can then take the shortcut as its
 * fused residual input. Returns `g` unchanged if the reorder would not be topological.
 */
function shortcutsFirst(g: Graph): Graph {
  const byName = new Map(g.nodes.map((n) => [n.name, n]));
  const firstBody = new Map<string, string[]>(); // first body node → shortcut nodes
  for (const b of g.blocks) {
    if (b.shortcutNodes.length && b.nodes.length) firstBody.set(b.nodes[0], b.shortcutNodes);
  }
  if (!firstBody.size) return g;
  const placed = new Set<string>();
  const order: Node[] = [];
  const place = (n: Node) => {
    if (!placed.has(n.name)) {
      placed.add(n.name);
      order.push(n);
    }
  };
  for (const n of g.nodes) {
    for (const s of firstBody.get(n.name) ?? []) place(byName.get(s)!);
    place(n);
  }
  const have = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ""]);
  for (const n of order) {
    if (n.inputs.some((i) => !have.has(i))) return g;
    for (const o of n.outputs) have.add(o);
  }
  return { ...g, nodes: order };
}

interface Lowered {
  nodes: Node[];
  tensors: TensorInput[];
  layers: LayerInfo[];
  floatIslands: string[];
  activations: PackedGraph["activations"];
  constDtypes: Record<string, string>;
}

const PASS_THROUGH = new Set([
  "Flatten",
  "Reshape",
  "Squeeze",
  "Unsqueeze",
  "Identity",
  "Transpose",
  "Gather",
]);

function lower(
  g: Graph,
  paramsOf: (t: string) => QuantParams,
  opts: { fuseResidual: boolean; weightBits: number },
): Lowered {
  const producerIndex = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producerIndex.set(o, i)));
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const graphOut = new Set(g.outputs.map((o) => o.name));
  const q = new Map<string, QuantParams>(); // tensor → params, when held quantized
  const qName = new Map<string, string>(); // float tensor → its quantized twin's name
  const fName = new Map<string, string>(); // quantized tensor → a float twin's name
  const nodes: Node[] = [];
  const tensors: TensorInput[] = [];
  const layers: LayerInfo[] = [];
  const floatIslands: string[] = [];
  const usedConsts = new Set<string>();
  const fused = new Set<string>();

  const isConst = (t: string) => g.initializers.has(t);
  /** The name of t's value held quantized, inserting a QuantizeLinear8 if needed. */
  const asQ = (t: string): string => {
    if (q.has(t)) return t;
    const have = qName.get(t);
    if (have) return have;
    const p = paramsOf(t);
    const out = `${t}::q`;
    nodes.push(qnode("QuantizeLinear8", `${t}::quantize`, [t], [out], {
      scale: F32_EXACT(p.scale),
      zero_point: p.zeroPoint,
      dtype: "uint8",
    }));
    q.set(out, p);
    qName.set(t, out);
    return out;
  };
  /** The name of t's value as float, inserting a DequantizeLinear8 if needed. */
  const asF = (t: string): string => {
    if (!t || !q.has(t)) {
      if (t && isConst(t)) usedConsts.add(t);
      return t;
    }
    const have = fName.get(t);
    if (have) return have;
    const p = q.get(t)!;
    const out = `${t}::f`;
    nodes.push(qnode("DequantizeLinear8", `${t}::dequantize`, [t], [out], {
      scale: F32_EXACT(p.scale),
      zero_point: p.zeroPoint,
    }));
    fName.set(t, out);
    return out;
  };
  /** Output name for a quantized producer of `t` (graph outputs get a float twin later). */
  const qOut = (t: string) => (graphOut.has(t) ? `${t}::qout` : t);
  /**
   * If the sole consumer of t is a Relu or a Clip with constant bounds (ReLU6), it can be
   * fused as the output clamp: returns that node.
   */
  const fusableRelu = (t: string): Node | undefined => {
    const c = consumers.get(t) ?? [];
    if (c.length !== 1 || graphOut.has(t)) return undefined;
    if (c[0].op === "Relu") return c[0];
    if (c[0].op === "Clip" && c[0].inputs.slice(1).every((i) => !i || isConst(i))) return c[0];
    return undefined;
  };
  /** qmin/qmax of a quantized output with an optional fused Relu/Clip. */
  const clampAttrs = (act: Node | undefined, p: QuantParams) => {
    if (!act) return { qmin: p.qmin, qmax: p.qmax };
    if (act.op === "Relu") return { qmin: Math.max(p.qmin, p.zeroPoint), qmax: p.qmax };
    // Clip: quantization is monotonic, so quantize(clip(y)) = clamp(quantize(y), q(lo), q(hi)).
    const bound = (k: number, attr: string, dflt: number) => {
      const name = act.inputs[k];
      if (name) return g.initializers.get(name)!.data[0] as number;
      return act.attrs[attr] !== undefined ? Number(act.attrs[attr]) : dflt;
    };
    const lo = bound(1, "min", -Infinity), hi = bound(2, "max", Infinity);
    const q = (v: number, d: number) =>
      Number.isFinite(v)
        ? Math.min(p.qmax, Math.max(p.qmin, Math.round(v / p.scale) + p.zeroPoint))
        : d;
    const qmin = q(lo, p.qmin), qmax = q(hi, p.qmax);
    return qmin <= qmax ? { qmin, qmax } : { qmin, qmax: qmin };
  };
  const finish = (orig: string, name: string, p: QuantParams) => {
    q.set(name, p);
    if (name !== orig) {
      // A graph output produced quantized: dequantize into the original name.
      nodes.push(qnode("DequantizeLinear8", `${orig}::dequantize`, [name], [orig], {
        scale: F32_EXACT(p.scale),
        zero_point: p.zeroPoint,
      }));
    }
  };
  const addTensor = (t: TensorInput) => tensors.push(t);
  /** A float constant as uint8 (asymmetric, its own min/max range); returns its name. */
  const quantizedConst = (c: string): string => {
    const name = `${c}::q`;
    if (q.has(name)) return name;
    const t = g.initializers.get(c)!;
    let lo = 0, hi = 0;
    for (const v of t.data as Float32Array) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const p = scaleFor({ lo, hi }, 8, false);
    const data = new Uint8Array(t.data.length);
    for (let i = 0; i < data.length; i++) {
      data[i] = Math.min(p.qmax, Math.max(p.qmin, Math.round(t.data[i] / p.scale) + p.zeroPoint));
    }
    addTensor({ name, layout: "u8", shape: t.shape, data });
    q.set(name, p);
    return name;
  };

  /**
   * The residual Add a Conv can absorb: the Conv's output feeds only an Add of two
   * computed values whose other operand (the shortcut) is produced before the Conv.
   */
  const residualAdd = (n: Node, ni: number): { add: Node; shortcut: string } | undefined => {
    const y = n.outputs[0];
    const c = consumers.get(y) ?? [];
    if (c.length !== 1 || graphOut.has(y)) return undefined;
    const add = c[0];
    if (add.op !== "Add" || add.inputs.length !== 2 || add.inputs[0] === add.inputs[1]) {
      return undefined;
    }
    const shortcut = add.inputs.find((i) => i !== y)!;
    if (isConst(shortcut)) return undefined;
    // Only the body's last conv absorbs the join, so that gating keeps its meaning.
    if (!g.blocks.some((b) => b.join === add.name && b.body === y)) return undefined;
    const pi = producerIndex.get(shortcut);
    if (pi !== undefined && pi >= ni) return undefined;
    const xs = g.values.get(shortcut)?.shape, ys = g.values.get(y)?.shape;
    if (!xs || !ys || xs.length !== ys.length || xs.some((d, i) => d !== ys[i])) return undefined;
    return { add, shortcut };
  };

  /** A positive scalar float constant, or undefined. */
  const positiveScalar = (t: string | undefined): number | undefined => {
    const c = t ? g.initializers.get(t) : undefined;
    if (!c || c.dtype !== "float32" || c.data.length !== 1) return undefined;
    const v = c.data[0] as number;
    return v > 0 && Number.isFinite(v) ? v : undefined;
  };
  /** True when a Softmax works on the last axis of rows QSoftmax accepts. */
  const softmaxLowerable = (n: Node): boolean => {
    const shape = g.values.get(n.inputs[0])?.shape;
    if (n.op !== "Softmax" || !shape || shape.length < 1) return false;
    const r = shape.length;
    let axis = attrInt(n.attrs, "axis", g.opset >= 13 ? -1 : 1);
    if (axis < 0) axis += r;
    return axis === r - 1 && shape[r - 1] <= QSOFTMAX_MAX_N && n.outputs.length === 1 &&
      !graphOut.has(n.outputs[0]);
  };
  /** Positive scalar Mul/Div in front of a QSoftmax: output → (quantized source, factor). */
  const softmaxScale = new Map<string, { src: string; factor: number }>();

  for (const [ni, n] of g.nodes.entries()) {
    if (fused.has(n.name)) continue;
    const act = n.inputs.filter((i) => i && !isConst(i));
    if ((n.op === "Mul" || n.op === "Div") && act.length === 1 && n.inputs.length === 2) {
      const src = act[0];
      const k = n.inputs.indexOf(src);
      const c = positiveScalar(n.inputs[1 - k]);
      const cons = consumers.get(n.outputs[0]) ?? [];
      if (
        c !== undefined && (n.op === "Mul" || k === 0) && q.has(src) && cons.length === 1 &&
        !graphOut.has(n.outputs[0]) && softmaxLowerable(cons[0])
      ) {
        softmaxScale.set(n.outputs[0], { src, factor: n.op === "Mul" ? c : 1 / c });
        continue;
      }
    }
    if (n.op === "Softmax" && softmaxLowerable(n)) {
      const pre = softmaxScale.get(n.inputs[0]);
      if (pre || q.has(n.inputs[0])) {
        lowerSoftmax(n, pre ?? { src: n.inputs[0], factor: 1 });
        continue;
      }
    }
    if (n.op === "LayerNormalization" && lowerLayerNorm(n)) continue;
    if ((n.op === "Conv" || n.op === "Gemm") && act.length === 1 && isConst(n.inputs[1])) {
      const w = g.initializers.get(n.inputs[1])!;
      const b = n.inputs[2] ? g.initializers.get(n.inputs[2]) : undefined;
      if (
        n.op === "Gemm" &&
        (attrInt(n.attrs, "transA", 0) !== 0 || (b && b.shape.length > 1 && b.shape[0] !== 1))
      ) {
        lowerFloat(n);
        continue;
      }
      const x = asQ(n.inputs[0]);
      const px = q.get(x)!;
      const res = n.op === "Conv" && opts.fuseResidual ? residualAdd(n, ni) : undefined;
      if (res) fused.add(res.add.name);
      const relu = fusableRelu(res ? res.add.outputs[0] : n.outputs[0]);
      if (relu) fused.add(relu.name);
      const yOrig = relu ? relu.outputs[0] : res ? res.add.outputs[0] : n.outputs[0];
      const py = paramsOf(yOrig);
      // With a fused residual the conv requantizes to its own (c) parameters first.
      const pc = res ? paramsOf(n.outputs[0]) : py;
      const { wq, sw, m } = quantizeWeights(n, w, opts.weightBits);
      const alpha = n.op === "Gemm" ? attrFloat(n.attrs, "alpha", 1) : 1;
      const beta = n.op === "Gemm" ? attrFloat(n.attrs, "beta", 1) : 1;
      const bias = new Int32Array(m);
      const mult: number[] = [], shift: number[] = [];
      for (let k = 0; k < m; k++) {
        const sacc = px.scale * sw[k] * alpha;
        const bv = b ? b.data[b.data.length === 1 ? 0 : k] * beta : 0;
        bias[k] = clampI32(Math.round(bv / sacc));
        const qm = quantizeMultiplier(sacc / pc.scale);
        mult.push(qm.mult);
        shift.push(qm.shift);
      }
      const wName = `${n.name}::w_q`, bName = `${n.name}::b_q`;
      addTensor({ name: wName, layout: "i8", shape: wq.shape, data: wq.data as Int8Array });
      addTensor({ name: bName, layout: "i32", shape: [m], data: bias });
      const out = qOut(yOrig);
      const ins = [x, wName, bName];
      const attrs: Attrs = {
        x_zp: px.zeroPoint,
        mult,
        shift,
        y_zp: py.zeroPoint,
        dtype: "uint8",
        ...clampAttrs(relu, py),
      };
      if (n.op === "Conv") {
        for (const k of ["kernel_shape", "pads", "strides", "dilations", "group", "auto_pad"]) {
          if (n.attrs[k] !== undefined) attrs[k] = n.attrs[k];
        }
      }
      if (res) {
        const r = asQ(res.shortcut);
        const pr = q.get(r)!;
        const mm = addMultipliers(pc.scale, pr.scale, py.scale);
        ins.push(r);
        Object.assign(attrs, {
          c_zp: pc.zeroPoint,
          c_mult: mm.a.mult,
          c_shift: mm.a.shift,
          r_zp: pr.zeroPoint,
          r_mult: mm.b.mult,
          r_shift: mm.b.shift,
          y_mult: mm.y.mult,
          y_shift: mm.y.shift,
        });
      }
      nodes.push(qnode(n.op === "Conv" ? "QConv" : "QGemm", n.name, ins, [out], attrs));
      const fusedOps = [...(res ? ["Add"] : []), ...(relu ? [relu.op] : [])];
      layers.push({
        node: n.name,
        op: n.op,
        bits: 8,
        params: w.data.length + (b?.data.length ?? 0),
        fused: fusedOps.length ? fusedOps : undefined,
      });
      finish(yOrig, out, py);
      continue;
    }
    if (n.op === "MatMul" && act.length === 1 && isConst(n.inputs[1]) && !isConst(n.inputs[0])) {
      const w = g.initializers.get(n.inputs[1])!;
      if (w.shape.length === 2 && w.dtype === "float32") {
        lowerMatMulConst(n, w);
        continue;
      }
    }
    if (n.op === "MatMul" && act.length === 2) {
      const a = asQ(n.inputs[0]), bq = asQ(n.inputs[1]);
      const pa = q.get(a)!, pb = q.get(bq)!;
      const py = paramsOf(n.outputs[0]);
      const qm = quantizeMultiplier(pa.scale * pb.scale / py.scale);
      const out = qOut(n.outputs[0]);
      nodes.push(qnode("QMatMul", n.name, [a, bq], [out], {
        a_zp: pa.zeroPoint,
        b_zp: pb.zeroPoint,
        mult: qm.mult,
        shift: qm.shift,
        y_zp: py.zeroPoint,
        dtype: "uint8",
        qmin: py.qmin,
        qmax: py.qmax,
      }));
      layers.push({ node: n.name, op: "MatMul", bits: 8, params: 0 });
      finish(n.outputs[0], out, py);
      continue;
    }
    const addConst = n.op === "Add" && act.length === 1 && n.inputs.length === 2
      ? g.initializers.get(n.inputs.find((i) => isConst(i))!)
      : undefined;
    if (
      (n.op === "Add" && act.length === 2) ||
      (addConst && addConst.dtype === "float32" && addConst.data.length >= 16)
    ) {
      // Two activations, or an activation and a large float constant (e.g. a ViT's
      // position embedding) stored as uint8 with its own min/max scale.
      const ins = n.inputs.map((i) => isConst(i) ? quantizedConst(i) : asQ(i));
      const [a, bq] = ins;
      const pa = q.get(a)!, pb = q.get(bq)!;
      const relu = fusableRelu(n.outputs[0]);
      if (relu) fused.add(relu.name);
      const yOrig = relu ? relu.outputs[0] : n.outputs[0];
      const py = paramsOf(yOrig);
      const mm = addMultipliers(pa.scale, pb.scale, py.scale);
      const out = qOut(yOrig);
      nodes.push(qnode("QAdd", n.name, [a, bq], [out], {
        a_zp: pa.zeroPoint,
        b_zp: pb.zeroPoint,
        a_mult: mm.a.mult,
        a_shift: mm.a.shift,
        b_mult: mm.b.mult,
        b_shift: mm.b.shift,
        y_mult: mm.y.mult,
        y_shift: mm.y.shift,
        y_zp: py.zeroPoint,
        dtype: "uint8",
        ...clampAttrs(relu, py),
      }));
      layers.push({
        node: n.name,
        op: "Add",
        bits: 8,
        params: addConst ? addConst.data.length : 0,
        fused: relu ? [relu.op] : undefined,
      });
      finish(yOrig, out, py);
      continue;
    }
    const x0 = n.inputs[0];
    const sameParams = ["MaxPool", "AveragePool", "GlobalAveragePool", "Relu"];
    if (
      q.has(x0) && (sameParams.includes(n.op) || PASS_THROUGH.has(n.op)) &&
      n.inputs.slice(1).every((i) => !i || isConst(i))
    ) {
      const p = q.get(x0)!;
      const out = qOut(n.outputs[0]);
      if (PASS_THROUGH.has(n.op)) {
        for (const c of n.inputs.slice(1)) if (c) usedConsts.add(c);
        nodes.push({ ...n, inputs: [...n.inputs], outputs: [out] });
      } else {
        const attrs: Attrs = { ...n.attrs };
        if (n.op !== "MaxPool") attrs.zero_point = p.zeroPoint;
        if (n.op === "MaxPool" && n.outputs.filter(Boolean).length > 1) {
          lowerFloat(n);
          continue;
        }
        delete attrs.storage_order;
        nodes.push(qnode(`Q${n.op}`, n.name, [x0], [out], attrs));
      }
      finish(n.outputs[0], out, p);
      continue;
    }
    lowerFloat(n);
  }

  /** X[..., K] · W[K, N] (+ a constant [N] bias Add that is the sole consumer) → QGemm. */
  function lowerMatMulConst(n: Node, w: Tensor) {
    const x = asQ(n.inputs[0]);
    const px = q.get(x)!;
    const [k, nn] = w.shape;
    const c = consumers.get(n.outputs[0]) ?? [];
    let biasT: Tensor | undefined;
    let yOrig = n.outputs[0];
    const fusedOps: string[] = [];
    if (c.length === 1 && c[0].op === "Add" && !graphOut.has(yOrig)) {
      const other = c[0].inputs.find((i) => i !== yOrig);
      const t = other ? g.initializers.get(other) : undefined;
      if (t && t.dtype === "float32" && t.data.length === nn && t.shape.at(-1) === nn) {
        biasT = t;
        fused.add(c[0].name);
        fusedOps.push("Add");
        yOrig = c[0].outputs[0];
      }
    }
    const relu = fusableRelu(yOrig);
    if (relu) {
      fused.add(relu.name);
      fusedOps.push(relu.op);
      yOrig = relu.outputs[0];
    }
    const py = paramsOf(yOrig);
    const { wq, sw } = quantizeWeights(
      { ...n, op: "Gemm", attrs: { transB: 0 } },
      w,
      opts.weightBits,
    );
    const bias = new Int32Array(nn);
    const mult: number[] = [], shift: number[] = [];
    for (let j = 0; j < nn; j++) {
      const sacc = px.scale * sw[j];
      bias[j] = clampI32(Math.round((biasT ? biasT.data[j] : 0) / sacc));
      const qm = quantizeMultiplier(sacc / py.scale);
      mult.push(qm.mult);
      shift.push(qm.shift);
    }
    const wName = `${n.name}::w_q`, bName = `${n.name}::b_q`;
    addTensor({ name: wName, layout: "i8", shape: wq.shape, data: wq.data as Int8Array });
    addTensor({ name: bName, layout: "i32", shape: [nn], data: bias });
    const out = qOut(yOrig);
    nodes.push(qnode("QGemm", n.name, [x, wName, bName], [out], {
      x_zp: px.zeroPoint,
      mult,
      shift,
      y_zp: py.zeroPoint,
      dtype: "uint8",
      ...clampAttrs(relu, py),
    }));
    layers.push({
      node: n.name,
      op: "MatMul",
      bits: 8,
      params: k * nn + (biasT ? nn : 0),
      fused: fusedOps.length ? fusedOps : undefined,
    });
    finish(yOrig, out, py);
  }

  /**
   * Softmax on the last axis of a quantized value (times a positive scalar) → QSoftmax:
   * `exp_table[d] = round(2^16 · exp(−s_eff · d))`, output scale `1/r`, zero point 0.
   */
  function lowerSoftmax(n: Node, pre: { src: string; factor: number }) {
    const x = pre.src;
    const px = q.get(x)!;
    const sEff = F32_EXACT(px.scale) * pre.factor;
    const table: number[] = [];
    for (let d = 0; d < 256; d++) {
      table.push(Math.min(QSOFTMAX_ONE, Math.round(QSOFTMAX_ONE * Math.exp(-sEff * d))));
    }
    const pc = paramsOf(n.outputs[0]);
    const r = Math.max(255, Math.min(QSOFTMAX_MAX_R, Math.round(1 / pc.scale)));
    const py: QuantParams = { scale: 1 / r, zeroPoint: 0, qmin: 0, qmax: 255 };
    const out = qOut(n.outputs[0]);
    nodes.push(qnode("QSoftmax", n.name, [x], [out], { exp_table: table, r }));
    layers.push({ node: n.name, op: "Softmax", bits: 8, params: 0 });
    finish(n.outputs[0], out, py);
  }

  /**
   * LayerNormalization on the last axis of a quantized value with constant γ (β) →
   * QLayerNorm; false (not lowered) otherwise.
   */
  function lowerLayerNorm(n: Node): boolean {
    const x = n.inputs[0];
    const shape = g.values.get(x)?.shape;
    if (!q.has(x) || !shape || shape.length < 1) return false;
    const r = shape.length, nn = shape[r - 1];
    let axis = attrInt(n.attrs, "axis", -1);
    if (axis < 0) axis += r;
    if (axis !== r - 1 || nn > QLAYERNORM_MAX_N) return false;
    if (n.outputs.slice(1).some((o) => o && (consumers.get(o)?.length || graphOut.has(o)))) {
      return false;
    }
    const gamma = g.initializers.get(n.inputs[1]);
    const beta = n.inputs[2] ? g.initializers.get(n.inputs[2]) : undefined;
    if (!gamma || (n.inputs[2] && !beta)) return false;
    const okLen = (t: Tensor) => t.data.length === 1 || t.data.length === nn;
    if (!okLen(gamma) || (beta && !okLen(beta))) return false;
    const px = q.get(x)!;
    const py = paramsOf(n.outputs[0]);
    const sx = F32_EXACT(px.scale), so = py.scale;
    const eps = attrFloat(n.attrs, "epsilon", 1e-5);
    const epsQ = Math.max(1, Math.min(QLAYERNORM_MAX_EPS, Math.round((nn * nn * eps) / (sx * sx))));
    const k = layerNormShift(nn);
    const mult: number[] = [], shift: number[] = [], sign: number[] = [], bias: number[] = [];
    for (let i = 0; i < nn; i++) {
      const gv = gamma.data[gamma.data.length === 1 ? 0 : i] as number;
      const bv = beta ? beta.data[beta.data.length === 1 ? 0 : i] as number : 0;
      const qm = quantizeMultiplier((Math.abs(gv) * 16) / (so * 2 ** k));
      mult.push(qm.mult);
      shift.push(qm.shift);
      sign.push(Math.sign(gv));
      bias.push(
        Math.max(-QLAYERNORM_MAX_BIAS, Math.min(QLAYERNORM_MAX_BIAS, Math.round((16 * bv) / so))),
      );
    }
    const out = qOut(n.outputs[0]);
    nodes.push(qnode("QLayerNorm", n.name, [x], [out], {
      eps: epsQ,
      mult,
      shift,
      sign,
      bias,
      y_zp: py.zeroPoint,
      dtype: "uint8",
      qmin: py.qmin,
      qmax: py.qmax,
    }));
    layers.push({ node: n.name, op: "LayerNormalization", bits: 8, params: 2 * nn });
    finish(n.outputs[0], out, py);
    return true;
  }

  function lowerFloat(n: Node) {
    floatIslands.push(`${n.name} (${n.op})`);
    nodes.push({ ...n, inputs: n.inputs.map(asF), outputs: [...n.outputs] });
  }

  // Elementwise float chains between a dequantize and a quantize → QLut tables.
  const tables = fuseTableChains(nodes, {
    constant: (t) => g.initializers.get(t),
    shape: (t) => g.values.get(t.replace(/::q(out)?$/, ""))?.shape,
    codeType: () => "uint8",
    outputs: graphOut,
    opset: g.opset,
  });
  if (tables.fused.length) {
    nodes.splice(0, nodes.length, ...tables.nodes);
    const fusedSet = new Set(tables.fused);
    floatIslands.splice(0, floatIslands.length, ...floatIslands.filter((f) => !fusedSet.has(f)));
    const referenced = new Set(nodes.flatMap((n) => n.inputs));
    for (const c of [...usedConsts]) if (!referenced.has(c)) usedConsts.delete(c);
  }
  for (const c of usedConsts) {
    const t = g.initializers.get(c)!;
    if (t.dtype !== "float32") {
      // int64 shape constants etc. are stored as f32 only when exact; else refuse.
      if (!t.data.every((v) => Math.fround(v) === v)) {
        throw new EdgeqError("E_UNSUPPORTED_DTYPE", `constant of ${t.dtype} cannot be stored`, {
          tensor: c,
        });
      }
    }
    addTensor({
      name: c,
      layout: "f32",
      shape: t.shape,
      data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data),
    });
  }
  const activations: PackedGraph["activations"] = {};
  for (const [k, p] of q) {
    activations[k] = { scale: p.scale, zero_point: p.zeroPoint, dtype: "uint8" };
  }
  for (const n of nodes) {
    for (const v of Object.values(n.attrs)) {
      if (typeof v === "object" && v !== null && !Array.isArray(v)) {
        throw new EdgeqError("E_UNSUPPORTED_ATTR", "tensor-valued attribute cannot be packed", {
          node: n.name,
        });
      }
    }
  }
  const constDtypes: Record<string, string> = {};
  for (const c of usedConsts) constDtypes[c] = g.initializers.get(c)!.dtype;
  return { nodes, tensors, layers, floatIslands, activations, constDtypes };
}

function qnode(op: string, name: string, inputs: string[], outputs: string[], attrs: Attrs): Node {
  return { name, op, domain: QUANT_DOMAIN, inputs, outputs, attrs };
}

function clampI32(v: number): number {
  return Math.max(-2147483648, Math.min(2147483647, v));
}

/** Symmetric per-output-channel int8 weights of `bits` bits ([M, ...] for Conv, [N, K] for Gemm). */
function quantizeWeights(
  n: Node,
  w: Tensor,
  bits: number,
): { wq: Tensor; sw: Float64Array; m: number } {
  const qm = (1 << (bits - 1)) - 1;
  let data = w.data as Float32Array;
  let shape = w.shape;
  if (n.op === "Gemm" && attrInt(n.attrs, "transB", 0) === 0) {
    // Store as [N, K].
    const [k, nn] = shape;
    const t = new Float32Array(data.length);
    for (let i = 0; i < k; i++) for (let j = 0; j < nn; j++) t[j * k + i] = data[i * nn + j];
    data = t;
    shape = [nn, k];
  }
  const m = shape[0];
  const per = data.length / m;
  const sw = new Float64Array(m);
  const q = new Int8Array(data.length);
  for (let c = 0; c < m; c++) {
    let amax = 0;
    for (let j = 0; j < per; j++) amax = Math.max(amax, Math.abs(data[c * per + j]));
    sw[c] = amax > 0 ? amax / qm : 1;
    for (let j = 0; j < per; j++) {
      const v = data[c * per + j] / sw[c];
      q[c * per + j] = Math.max(-qm, Math.min(qm, Math.sign(v) * Math.round(Math.abs(v))));
    }
  }
  return { wq: { dtype: "int8", shape, data: q }, sw, m };
}
