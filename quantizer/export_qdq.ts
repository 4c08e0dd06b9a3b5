/**
 * ONNX QDQ export: a packed edgeq model (.eqp) as a standard ONNX model that
 * onnxruntime (or any ONNX runtime) runs with the very quantization edgeq chose.
 *
 * Every uint8 activation of the edgeq graph stays a uint8 tensor of the same name; an
 * integer op becomes the ONNX "QDQ" pattern around its float twin:
 *
 * | edgeq op                 | ONNX                                                         |
 * | ------------------------ | ------------------------------------------------------------ |
 * | QuantizeLinear8          | QuantizeLinear (per tensor, uint8 zero point)                |
 * | DequantizeLinear8        | DequantizeLinear                                             |
 * | QConv                    | DQ(x), DQ(w int8, per channel, axis 0), DQ(b int32) → Conv → [Relu/Clip] → Q |
 * | QGemm                    | the same around Gemm (transB = 1); rank > 2 inputs: MatMul + Add |
 * | QMatMul / QAdd           | DQ, DQ → MatMul / Add → [Relu/Clip] → Q                      |
 * | QRelu / QMaxPool / QAveragePool / QGlobalAveragePool | DQ → float op → Q (same parameters) |
 * | QLut                     | Cast(x → int32) → Gather(256-entry uint8 table) (exact)      |
 * | QSoftmax                 | DQ → Mul(s_eff/s_x) → Softmax(axis −1) → Q(1/r, 0)           |
 * | QLayerNorm               | DQ → LayerNormalization(γ, β, ε from the integer attrs) → Q (below opset 17: ReduceMean … Add) |
 * | layout ops on uint8      | unchanged (Reshape, Flatten, Transpose, Gather, ...)         |
 * | float islands            | unchanged                                                    |
 *
 * u8 activations × s8 symmetric weights: onnxruntime's fast path (its QDQ transformer
 * fuses the patterns into QLinearConv / QLinearMatMul / QGemm).
 *
 * Scales: activation scales and zero points are the manifest's (`activations`, rounded
 * to float32 as the edgeq QuantizeLinear8 nodes use them). Weight scales are not stored
 * in the file; they are recovered from the requantization multipliers the quantizer
 * derived from them: `M[m] = mult·2^(shift−31) = sx·sw[m]/sy`, so `sw[m] = M[m]·sy/sx`
 * (exact to 2^−31 relative, below float32 resolution). Bias scales are `sx·sw[m]`.
 * Sub-byte weights (i4/i2/b1) are exported unpacked as int8.
 *
 * Numerics differ from edgeq's integer pipeline in the last bit only: ONNX
 * QuantizeLinear rounds ties to even, edgeq rounds ties away from zero; onnxruntime
 * requantizes with a float32 multiplier, edgeq with the fixed-point one (gemmlowp
 * MBQM), and averages pools in float where edgeq divides integers. Outputs agree to
 * within one quantization step nearly everywhere; tests/export_qdq_test.ts measures it.
 * @module
 */
import onnx from "onnx-proto";
import { EdgeqError } from "../runtime/errors.ts";
import type { Attrs, AttrValue, Graph, Node, ValueInfo } from "../runtime/graph.ts";
import type { DType, Tensor } from "../runtime/tensor.ts";
import { loadPackedGraph } from "../runtime/packed_model.ts";
import { prepareGraph } from "../runtime/prepare.ts";
import { QUANT_DOMAIN } from "../kernels/ref/quant/mod.ts";
import { readWeight } from "../kernels/ref/quant/qutil.ts";
import { layerNormShift } from "../kernels/ref/quant/qlayernorm.ts";
import { dtypeToOnnx } from "./onnx_tensor.ts";

const P = onnx.onnx;
const AT = P.AttributeProto.AttributeType;

/** Options of {@link exportQdq}. */
export interface ExportQdqOptions {
  /** File name for error messages. */
  path?: string;
}

/** What {@link exportQdq} returns. */
export interface ExportQdqResult {
  /** The serialized ONNX ModelProto. */
  bytes: Uint8Array;
  /** Default-domain opset of the exported model (at least 13: per-axis DequantizeLinear). */
  opset: number;
  /** Exported node count. */
  nodes: number;
  /** Integer ops exported as QDQ patterns, by edgeq op. */
  quantizedOps: Record<string, number>;
}

/** Attributes that ONNX types as FLOAT even when their value is an integer. */
const FLOAT_ATTRS = new Set([
  "alpha",
  "beta",
  "bias",
  "epsilon",
  "gamma",
  "lambd",
  "max",
  "min",
  "ratio",
  "scale",
  "spatial_scale",
  "momentum",
]);

/** Ops whose float semantics changed at opset 13 (a graph below 13 with them is refused). */
const CHANGED_AT_13 = new Set([
  "Softmax",
  "LogSoftmax",
  "Hardmax",
  "Split",
  "Squeeze",
  "Unsqueeze",
  "ReduceSum",
]);

const GEOMETRY = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"];

interface QParams {
  scale: number;
  zp: number;
}

/**
 * Exports a packed edgeq model as a QDQ ONNX model.
 *
 * @example
 * ```ts
 * const { bytes } = exportQdq(await Deno.readFile("r14.eqp"));
 * await Deno.writeFile("r14_qdq.onnx", bytes);
 * ```
 */
export function exportQdq(eqp: Uint8Array, opts: ExportQdqOptions = {}): ExportQdqResult {
  const { graph, file } = loadPackedGraph(eqp, opts.path);
  const manifest = file.model as {
    activations?: Record<string, { scale: number; zero_point: number }>;
  };
  return new QdqExporter(graph, manifest.activations ?? {}, opts.path).run();
}

class QdqExporter {
  #nodes: InstanceType<typeof P.NodeProto>[] = [];
  #inits: InstanceType<typeof P.TensorProto>[] = [];
  #initNames = new Set<string>();
  #dq = new Map<string, string>();
  #qparams = new Map<string, QParams>();
  #counts: Record<string, number> = {};
  #ranks = new Map<string, number>();
  #shapes = new Map<string, number[]>();

  constructor(
    private g: Graph,
    activations: Record<string, { scale: number; zero_point: number }>,
    private path?: string,
  ) {
    for (const [k, v] of Object.entries(activations)) {
      this.#qparams.set(k, { scale: v.scale, zp: v.zero_point });
    }
  }

  run(): ExportQdqResult {
    const g = this.g;
    if (g.opset < 13) {
      const bad = g.nodes.find((n) => n.domain !== QUANT_DOMAIN && CHANGED_AT_13.has(n.op));
      if (bad) {
        throw new EdgeqError(
          "E_UNSUPPORTED_OP",
          "QDQ export needs opset >= 13 and this op changed meaning at 13",
          { node: bad.name, op: bad.op, opset: g.opset, path: this.path },
        );
      }
    }
    const opset = Math.max(13, g.opset);
    for (const [k, v] of prepareGraph(g, { batch: 1 }).values) {
      this.#ranks.set(k, v.shape.length);
      this.#shapes.set(k, v.shape as number[]);
    }
    // QuantizeLinear8/DequantizeLinear8 attrs carry the f32 scale too (covers older files).
    for (const n of g.nodes) {
      if (n.domain !== QUANT_DOMAIN) continue;
      if (n.op === "QuantizeLinear8" && !this.#qparams.has(n.outputs[0])) {
        this.#qparams.set(n.outputs[0], {
          scale: n.attrs.scale as number,
          zp: (n.attrs.zero_point as number) ?? 0,
        });
      }
      if (n.op === "DequantizeLinear8" && !this.#qparams.has(n.inputs[0])) {
        this.#qparams.set(n.inputs[0], {
          scale: n.attrs.scale as number,
          zp: (n.attrs.zero_point as number) ?? 0,
        });
      }
    }
    const used = new Set<string>();
    for (const n of g.nodes) {
      if (n.domain === QUANT_DOMAIN) {
        this.#counts[n.op] = (this.#counts[n.op] ?? 0) + 1;
        this.#lowerQ(n);
      } else {
        for (const i of n.inputs) if (i) used.add(i);
        this.#emit(n.op, n.name, n.inputs, n.outputs, n.attrs);
      }
    }
    for (const name of used) {
      const t = g.initializers.get(name);
      if (t) this.#init(name, t);
    }
    const model = P.ModelProto.create({
      irVersion: opset >= 15 ? 8 : 7,
      producerName: "edgeq",
      producerVersion: "export_qdq 1",
      opsetImport: [P.OperatorSetIdProto.create({ domain: "", version: opset })],
      graph: P.GraphProto.create({
        name: g.name,
        node: this.#nodes,
        initializer: this.#inits,
        input: g.inputs.map(valueInfo),
        output: g.outputs.map(valueInfo),
      }),
    });
    return {
      bytes: Uint8Array.from(P.ModelProto.encode(model).finish()),
      opset,
      nodes: this.#nodes.length,
      quantizedOps: this.#counts,
    };
  }

  #err(n: Node, msg: string, tensor?: string): never {
    throw new EdgeqError("E_UNSUPPORTED_OP", `QDQ export: ${msg}`, {
      node: n.name,
      op: n.op,
      tensor,
      path: this.path,
    });
  }

  #params(n: Node, t: string): QParams {
    const p = this.#qparams.get(t);
    if (!p || !(p.scale > 0)) this.#err(n, "no quantization parameters recorded", t);
    return p;
  }

  /** Float name of a quantized tensor (one DequantizeLinear per tensor). */
  #deq(n: Node, t: string): string {
    const have = this.#dq.get(t);
    if (have) return have;
    const p = this.#params(n, t);
    const c = this.g.initializers.get(t); // a quantized constant (e.g. a position embedding)
    if (c) this.#init(t, c);
    const out = `${t}::dq`;
    this.#emit("DequantizeLinear", `${t}::DequantizeLinear`, [t, ...this.#scaleZp(t, p)], [out]);
    this.#dq.set(t, out);
    return out;
  }

  /** Scalar scale (float32) and zero point (uint8) initializers of a tensor. */
  #scaleZp(t: string, p: QParams): [string, string] {
    const s = `${t}::scale`, z = `${t}::zero_point`;
    this.#init(s, { dtype: "float32", shape: [], data: Float32Array.of(p.scale) });
    this.#init(z, { dtype: "uint8", shape: [], data: Uint8Array.of(p.zp) });
    return [s, z];
  }

  /** Float value → Q into the quantized tensor `y`, applying the fused clamp first. */
  #quantizeOut(n: Node, pre: string, y: string) {
    const p = this.#params(n, y);
    const qmin = (n.attrs.qmin as number | undefined) ?? 0;
    const qmax = (n.attrs.qmax as number | undefined) ?? 255;
    let v = pre;
    if (qmin > 0 || qmax < 255) {
      const out = `${pre}::clamp`;
      if (qmin === p.zp && qmax === 255) {
        this.#emit("Relu", `${n.name}::Relu`, [v], [out]);
      } else {
        const lo = `${out}::min`, hi = `${out}::max`;
        this.#init(lo, {
          dtype: "float32",
          shape: [],
          data: Float32Array.of(p.scale * (qmin - p.zp)),
        });
        this.#init(hi, {
          dtype: "float32",
          shape: [],
          data: Float32Array.of(p.scale * (qmax - p.zp)),
        });
        this.#emit("Clip", `${n.name}::Clip`, [v, lo, hi], [out]);
      }
      v = out;
    }
    this.#emit("QuantizeLinear", `${n.name}::QuantizeLinear`, [v, ...this.#scaleZp(y, p)], [y]);
  }

  #lowerQ(n: Node) {
    const dt = n.attrs.dtype;
    if (dt !== undefined && dt !== "uint8") this.#err(n, `only uint8 activations (dtype ${dt})`);
    const y = n.outputs[0];
    switch (n.op) {
      case "QuantizeLinear8": {
        const p = { scale: n.attrs.scale as number, zp: (n.attrs.zero_point as number) ?? 0 };
        this.#emit("QuantizeLinear", n.name, [n.inputs[0], ...this.#scaleZp(y, p)], [y]);
        return;
      }
      case "DequantizeLinear8": {
        const x = n.inputs[0];
        const p = { scale: n.attrs.scale as number, zp: (n.attrs.zero_point as number) ?? 0 };
        this.#emit("DequantizeLinear", n.name, [x, ...this.#scaleZp(x, p)], [y]);
        return;
      }
      case "QConv":
      case "QGemm":
        return this.#lowerWeighted(n);
      case "QMatMul":
      case "QAdd": {
        if (n.inputs.length > 2) this.#err(n, "unexpected extra inputs");
        const a = this.#deq(n, n.inputs[0]), b = this.#deq(n, n.inputs[1]);
        const pre = `${y}::pre`;
        this.#emit(n.op.slice(1), n.name, [a, b], [pre]);
        this.#quantizeOut(n, pre, y);
        return;
      }
      case "QRelu":
      case "QMaxPool":
      case "QAveragePool":
      case "QGlobalAveragePool": {
        const x = this.#deq(n, n.inputs[0]);
        const attrs = { ...n.attrs };
        delete attrs.zero_point;
        const pre = `${y}::pre`;
        this.#emit(n.op.slice(1), n.name, [x], [pre], attrs);
        this.#quantizeOut(n, pre, y);
        return;
      }
      case "QLut":
        return this.#lowerLut(n);
      case "QSoftmax":
        return this.#lowerSoftmax(n);
      case "QLayerNorm":
        return this.#lowerLayerNorm(n);
    }
    this.#err(n, "no ONNX QDQ form for this op");
  }

  /** QLut: Gather from the 256-entry uint8 table, indexed by the code (exact). */
  #lowerLut(n: Node) {
    const x = n.inputs[0], y = n.outputs[0];
    const table = n.attrs.table as number[];
    const t = `${n.name}::table`, idx = `${n.name}::index`;
    this.#init(t, { dtype: "uint8", shape: [256], data: Uint8Array.from(table) });
    this.#emit("Cast", `${n.name}::Cast`, [x], [idx], { to: P.TensorProto.DataType.INT32 });
    this.#emit("Gather", n.name, [t, idx], [y], { axis: 0 });
  }

  /**
   * QSoftmax: DQ → Mul(s_eff / s_x) → Softmax(axis −1) → Q(1/r, 0). `s_eff` is recovered
   * from the exp table (its entry with the most significant digits).
   */
  #lowerSoftmax(n: Node) {
    const x = n.inputs[0], y = n.outputs[0];
    const e = n.attrs.exp_table as number[];
    let d = 1;
    for (let i = 1; i < 256; i++) if (e[i] >= 1024) d = i;
    const sEff = -Math.log(Math.max(e[d], 1) / 65536) / d;
    const px = this.#params(n, x);
    const c = `${n.name}::scale`, pre = `${y}::pre`, scaled = `${y}::scaled`;
    this.#init(c, { dtype: "float32", shape: [], data: Float32Array.of(sEff / px.scale) });
    this.#emit("Mul", `${n.name}::Mul`, [this.#deq(n, x), c], [scaled]);
    this.#emit("Softmax", n.name, [scaled], [pre], { axis: -1 });
    this.#quantizeOut(n, pre, y);
  }

  /**
   * QLayerNorm: DQ → LayerNormalization(γ, β, ε) → Q, γ/β/ε recovered from the integer
   * attributes (`γ_i = sign_i · M_i · s_o · 2^k / 16`, `β_i = bias_i · s_o / 16`,
   * `ε = eps · s_x² / N²`); below opset 17, the same as ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add.
   */
  #lowerLayerNorm(n: Node) {
    const x = n.inputs[0], y = n.outputs[0];
    const px = this.#params(n, x), py = this.#params(n, y);
    const N = this.#rowLength(n, x);
    const m = perChannel(n.attrs.mult, N), sh = perChannel(n.attrs.shift, N);
    const sg = perChannel(n.attrs.sign, N), bs = perChannel(n.attrs.bias, N);
    if (!m || !sh || !sg || !bs) this.#err(n, "per-channel attributes do not match the row length");
    const k = layerNormShift(N);
    const gamma = new Float32Array(N), beta = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      gamma[i] = (sg[i] * m[i] * 2 ** (sh[i] - 31) * py.scale * 2 ** k) / 16;
      beta[i] = (bs[i] * py.scale) / 16;
    }
    const eps = ((n.attrs.eps as number) * px.scale * px.scale) / (N * N);
    const gN = `${n.name}::gamma`, bN = `${n.name}::beta`, pre = `${y}::pre`;
    this.#init(gN, { dtype: "float32", shape: [N], data: gamma });
    this.#init(bN, { dtype: "float32", shape: [N], data: beta });
    const xf = this.#deq(n, x);
    if (Math.max(13, this.g.opset) >= 17) {
      this.#emit("LayerNormalization", n.name, [xf, gN, bN], [pre], { axis: -1, epsilon: eps });
    } else {
      const t = (s: string) => `${y}::${s}`;
      const two = t("two"), epsN = t("eps");
      this.#init(two, { dtype: "float32", shape: [], data: Float32Array.of(2) });
      this.#init(epsN, { dtype: "float32", shape: [], data: Float32Array.of(eps) });
      const ax = { axes: [-1], keepdims: 1 };
      this.#emit("ReduceMean", t("mean_op"), [xf], [t("mean")], ax);
      this.#emit("Sub", t("sub_op"), [xf, t("mean")], [t("d")]);
      this.#emit("Pow", t("pow_op"), [t("d"), two], [t("d2")]);
      this.#emit("ReduceMean", t("var_op"), [t("d2")], [t("var")], ax);
      this.#emit("Add", t("add_op"), [t("var"), epsN], [t("ve")]);
      this.#emit("Sqrt", t("sqrt_op"), [t("ve")], [t("sd")]);
      this.#emit("Div", t("div_op"), [t("d"), t("sd")], [t("nrm")]);
      this.#emit("Mul", t("mul_op"), [t("nrm"), gN], [t("g")]);
      this.#emit("Add", n.name, [t("g"), bN], [pre]);
    }
    this.#quantizeOut(n, pre, y);
  }

  /** The last-axis length of a value. */
  #rowLength(n: Node, t: string): number {
    const v = this.#shapes.get(t);
    if (!v || !v.length) this.#err(n, "unknown input shape", t);
    return v[v.length - 1];
  }

  /**
   * QConv / QGemm: DQ(x), DQ(w) per channel, DQ(bias) → Conv / Gemm → clamp → Q. With a
   * fused residual R: Conv → Q(c) → DQ, + DQ(R) → clamp → Q(y), the c parameters being
   * recovered from the add multipliers (see the module doc).
   */
  #lowerWeighted(n: Node) {
    const [xName, wName, bName, rName] = n.inputs;
    const px = this.#params(n, xName);
    const y = n.outputs[0];
    const py = this.#params(n, y);
    // The scale the conv's multipliers requantize to: y's, or c's with a residual.
    let pc = py;
    if (rName) {
      const cm = perChannel(n.attrs.c_mult, 1), cs = perChannel(n.attrs.c_shift, 1);
      const ym = perChannel(n.attrs.y_mult, 1), ys = perChannel(n.attrs.y_shift, 1);
      if (!cm || !cs || !ym || !ys) this.#err(n, "residual multipliers missing");
      // addMultipliers(sc, sr, sy): c = sc/T, y = T/(2^20·sy)  ⇒  sc = c·y·2^20·sy.
      const c = cm[0] * 2 ** (cs[0] - 31), yv = ym[0] * 2 ** (ys[0] - 31);
      pc = { scale: c * yv * 2 ** 20 * py.scale, zp: (n.attrs.c_zp as number) ?? 0 };
      this.#qparams.set(`${y}::c`, pc);
    }
    const wRaw = this.g.initializers.get(wName);
    if (!wRaw) this.#err(n, "weights must be constant", wName);
    const w = readWeight({ node: n, opset: this.g.opset }, wRaw, n.attrs);
    const m = w.shape[0];
    const mult = perChannel(n.attrs.mult, m), shift = perChannel(n.attrs.shift, m);
    if (!mult || !shift) this.#err(n, "mult/shift must be numbers or lists of 1 or M entries");
    // sacc = sx·sw = M·sc (see the module doc); sw = sacc / sx.
    const sacc = new Float64Array(m), sw = new Float32Array(m), sb = new Float32Array(m);
    for (let k = 0; k < m; k++) {
      sacc[k] = mult[k] * 2 ** (shift[k] - 31) * pc.scale;
      sw[k] = Math.fround(sacc[k] / px.scale);
      if (!(sw[k] > 0)) sw[k] = Math.fround(1 / 127); // a zero multiplier: any scale works
      sb[k] = Math.fround(Math.fround(px.scale) * sw[k]);
    }
    const x = this.#deq(n, xName);
    const rank3 = n.op === "QGemm" && (this.#ranks.get(xName) ?? 2) !== 2;
    const wq = `${wName}::int8`;
    // Gemm (transB=1) and Conv take W as [M, ...]: per-channel axis 0. MatMul takes W^T [K, M]: axis 1.
    if (rank3) {
      const k = w.data.length / m;
      const t = new Int8Array(w.data.length);
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) t[j * m + i] = w.data[i * k + j];
      this.#init(wq, { dtype: "int8", shape: [k, m], data: t });
    } else this.#init(wq, { dtype: "int8", shape: w.shape, data: Int8Array.from(w.data) });
    this.#init(`${wName}::scale`, { dtype: "float32", shape: [m], data: sw });
    this.#init(`${wName}::zero_point`, { dtype: "int8", shape: [m], data: new Int8Array(m) });
    const wf = `${wName}::dq`;
    this.#emit(
      "DequantizeLinear",
      `${wName}::DequantizeLinear`,
      [wq, `${wName}::scale`, `${wName}::zero_point`],
      [wf],
      { axis: rank3 ? 1 : 0 },
    );
    let bf = "";
    if (bName) {
      const b = this.g.initializers.get(bName);
      if (!b || b.dtype !== "int32") this.#err(n, "bias must be a constant int32 tensor", bName);
      this.#init(`${bName}::int32`, { dtype: "int32", shape: [m], data: Int32Array.from(b.data) });
      this.#init(`${bName}::scale`, { dtype: "float32", shape: [m], data: sb });
      this.#init(`${bName}::zero_point`, { dtype: "int32", shape: [m], data: new Int32Array(m) });
      bf = `${bName}::dq`;
      this.#emit(
        "DequantizeLinear",
        `${bName}::DequantizeLinear`,
        [`${bName}::int32`, `${bName}::scale`, `${bName}::zero_point`],
        [bf],
        { axis: 0 },
      );
    }
    const pre = rName ? `${y}::c::pre` : `${y}::pre`;
    if (n.op === "QConv") {
      const attrs: Attrs = {};
      for (const k of GEOMETRY) if (n.attrs[k] !== undefined) attrs[k] = n.attrs[k];
      this.#emit("Conv", n.name, bf ? [x, wf, bf] : [x, wf], [pre], attrs);
    } else if (!rank3) {
      this.#emit("Gemm", n.name, bf ? [x, wf, bf] : [x, wf], [pre], { transB: 1 });
    } else if (bf) {
      this.#emit("MatMul", n.name, [x, wf], [`${pre}::mm`]);
      this.#emit("Add", `${n.name}::bias`, [`${pre}::mm`, bf], [pre]);
    } else this.#emit("MatMul", n.name, [x, wf], [pre]);
    if (!rName) return this.#quantizeOut(n, pre, y);
    const c = `${y}::c`;
    this.#emit("QuantizeLinear", `${n.name}::QuantizeLinear_c`, [pre, ...this.#scaleZp(c, pc)], [
      c,
    ]);
    const sum = `${y}::pre`;
    this.#emit("Add", `${n.name}::residual`, [this.#deq(n, c), this.#deq(n, rName)], [sum]);
    this.#quantizeOut(n, sum, y);
  }

  #emit(op: string, name: string, inputs: string[], outputs: string[], attrs: Attrs = {}) {
    this.#nodes.push(P.NodeProto.create({
      name,
      opType: op,
      domain: "",
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v, name)),
    }));
  }

  #init(name: string, t: Tensor) {
    if (this.#initNames.has(name)) return;
    this.#initNames.add(name);
    this.#inits.push(tensorProto(name, t));
  }
}

function perChannel(v: AttrValue | undefined, m: number): number[] | undefined {
  const a = typeof v === "number" ? [v] : Array.isArray(v) ? v as number[] : undefined;
  if (!a || (a.length !== 1 && a.length !== m)) return undefined;
  return a.length === m ? a : new Array<number>(m).fill(a[0]);
}

function valueInfo(v: ValueInfo): InstanceType<typeof P.ValueInfoProto> {
  return P.ValueInfoProto.create({
    name: v.name,
    type: P.TypeProto.create({
      tensorType: P.TypeProto.Tensor.create({
        elemType: dtypeToOnnx(v.dtype),
        shape: P.TensorShapeProto.create({
          dim: v.shape.map((d) =>
            typeof d === "number"
              ? P.TensorShapeProto.Dimension.create({ dimValue: d })
              : P.TensorShapeProto.Dimension.create({ dimParam: String(d) })
          ),
        }),
      }),
    }),
  });
}

/** Little-endian raw bytes of a tensor in its ONNX element type. */
function rawBytes(t: Tensor): Uint8Array {
  const n = t.data.length;
  const put = (bytesPer: number, set: (dv: DataView, o: number, v: number) => void) => {
    const out = new Uint8Array(n * bytesPer);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < n; i++) set(dv, i * bytesPer, t.data[i]);
    return out;
  };
  switch (t.dtype as DType) {
    case "float32":
      return put(4, (d, o, v) => d.setFloat32(o, v, true));
    case "float64":
      return put(8, (d, o, v) => d.setFloat64(o, v, true));
    case "int64":
      return put(8, (d, o, v) => d.setBigInt64(o, BigInt(v), true));
    case "int32":
      return put(4, (d, o, v) => d.setInt32(o, v, true));
    case "uint32":
      return put(4, (d, o, v) => d.setUint32(o, v, true));
    case "int16":
      return put(2, (d, o, v) => d.setInt16(o, v, true));
    case "uint16":
      return put(2, (d, o, v) => d.setUint16(o, v, true));
    case "int8":
      return put(1, (d, o, v) => d.setInt8(o, v));
    case "uint8":
    case "bool":
      return put(1, (d, o, v) => d.setUint8(o, v));
  }
}

function tensorProto(name: string, t: Tensor): InstanceType<typeof P.TensorProto> {
  return P.TensorProto.create({
    name,
    dims: t.shape,
    dataType: dtypeToOnnx(t.dtype),
    rawData: rawBytes(t),
  });
}

function attribute(
  name: string,
  v: AttrValue,
  node: string,
): InstanceType<typeof P.AttributeProto> {
  const enc = new TextEncoder();
  if (typeof v === "string") {
    return P.AttributeProto.create({ name, type: AT.STRING, s: enc.encode(v) });
  }
  if (typeof v === "number") {
    return FLOAT_ATTRS.has(name) || !Number.isInteger(v)
      ? P.AttributeProto.create({ name, type: AT.FLOAT, f: v })
      : P.AttributeProto.create({ name, type: AT.INT, i: v });
  }
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) {
    return P.AttributeProto.create({
      name,
      type: AT.STRINGS,
      strings: (v as string[]).map((s) => enc.encode(s)),
    });
  }
  if (Array.isArray(v) && v.every((x) => typeof x === "number")) {
    const a = v as number[];
    return FLOAT_ATTRS.has(name) || !a.every(Number.isInteger)
      ? P.AttributeProto.create({ name, type: AT.FLOATS, floats: a })
      : P.AttributeProto.create({ name, type: AT.INTS, ints: a });
  }
  if (!Array.isArray(v)) {
    return P.AttributeProto.create({ name, type: AT.TENSOR, t: tensorProto("", v as Tensor) });
  }
  throw new EdgeqError("E_UNSUPPORTED_ATTR", `attribute '${name}' cannot be exported`, { node });
}
