"""A tiny numpy interpreter for the ONNX ops our fixture exports use.

Only meant to cross-check torch.onnx.export output (there is no onnxruntime in Debian):
float32 inference, the op subset used by tools/train_fixtures.py and tools/export_zoo.py.

    import onnx_np_eval
    out = onnx_np_eval.run("tests/fixtures/vit_op17.onnx", {"input": x})["logits"]
"""

import math

import numpy as np
import onnx
import onnx.numpy_helper

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, a):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    g = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("Conv auto_pad")
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (x.shape[2] - (dh * (kh - 1) + 1)) // sh + 1
    ow = (x.shape[3] - (dw * (kw - 1) + 1)) // sw + 1
    out = np.zeros((n, m, oh, ow), dtype=np.float64)
    mg = m // g
    for gi in range(g):
        xg = x[:, gi * cg : (gi + 1) * cg].astype(np.float64)
        wg = w[gi * mg : (gi + 1) * mg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
                out[:, gi * mg : (gi + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, wg[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def _maxpool(x, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    if a.get("ceil_mode", 0) or a.get("dilations", [1, 1]) != [1, 1]:
        raise NotImplementedError("MaxPool ceil_mode/dilations")
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=-np.inf)
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw])
    return out


def _slice(x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else [int(v) for v in axes]
    steps = [1] * len(starts) if steps is None else [int(v) for v in steps]
    sl = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        dim = x.shape[ax]
        s, e = int(s), int(e)
        # clamp like ONNX (handles INT64 max/min sentinels)
        s = max(-dim - 1, min(dim, s))
        e = max(-dim - 1, min(dim, e))
        sl[ax] = slice(s, e, st)
    return x[tuple(sl)]


def _reshape(x, shape, allowzero=0):
    shape = [int(v) for v in shape]
    if not allowzero:
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _layernorm(x, scale, bias, a):
    axis = a.get("axis", -1)
    eps = a.get("epsilon", 1e-5)
    axes = tuple(range(axis % x.ndim, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps) * scale
    return y + bias if bias is not None else y


_NP_TYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


def _node(op, ins, a, opset):
    x = ins[0] if ins else None
    if op == "Constant":
        if "value" in a:
            return [onnx.numpy_helper.to_array(a["value"])]
        for k in ("value_float", "value_int"):
            if k in a:
                return [np.array(a[k])]
        for k in ("value_floats", "value_ints"):
            if k in a:
                return [np.array(a[k])]
        raise NotImplementedError("Constant kind")
    if op == "Identity":
        return [x]
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal"):
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
             "Pow": np.power, "Equal": np.equal}[op]
        r = f(ins[0], ins[1])
        if op == "Div" and np.issubdtype(ins[0].dtype, np.integer):
            r = ins[0] // ins[1]
        if op != "Equal" and isinstance(r, np.ndarray):
            r = r.astype(ins[0].dtype)
        return [r]
    if op == "Relu":
        return [np.maximum(x, 0).astype(x.dtype)]
    if op == "Clip":
        lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min", -np.inf)
        hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max", np.inf)
        return [np.clip(x, lo, hi).astype(x.dtype)]
    if op == "Sqrt":
        return [np.sqrt(x)]
    if op == "Erf":
        return [_erf(x).astype(x.dtype)]
    if op == "Tanh":
        return [np.tanh(x)]
    if op == "Sigmoid":
        return [(1 / (1 + np.exp(-x))).astype(x.dtype)]
    if op == "Conv":
        return [_conv(x, ins[1], ins[2] if len(ins) > 2 else None, a)]
    if op == "BatchNormalization":
        sc, b, mean, var = ins[1:5]
        eps = a.get("epsilon", 1e-5)
        s = (1, -1) + (1,) * (x.ndim - 2)
        return [((x - mean.reshape(s)) / np.sqrt(var.reshape(s) + eps) * sc.reshape(s) + b.reshape(s)).astype(x.dtype)]
    if op == "MaxPool":
        return [_maxpool(x, a)]
    if op == "GlobalAveragePool":
        return [x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)]
    if op == "Flatten":
        ax = a.get("axis", 1) % max(x.ndim, 1)
        return [x.reshape(int(np.prod(x.shape[:ax])), -1)]
    if op == "Gemm":
        A, B = ins[0], ins[1]
        if a.get("transA", 0):
            A = A.T
        if a.get("transB", 0):
            B = B.T
        y = a.get("alpha", 1.0) * (A.astype(np.float64) @ B.astype(np.float64))
        if len(ins) > 2 and ins[2] is not None:
            y = y + a.get("beta", 1.0) * ins[2]
        return [y.astype(np.float32)]
    if op == "MatMul":
        return [np.matmul(ins[0].astype(np.float64), ins[1].astype(np.float64)).astype(np.float32)]
    if op == "Reshape":
        return [_reshape(x, ins[1], a.get("allowzero", 0))]
    if op == "Transpose":
        return [np.transpose(x, a.get("perm"))]
    if op == "Softmax":
        return [_softmax(x, a.get("axis", -1 if opset >= 13 else 1))]
    if op == "ReduceMean":
        axes = a.get("axes")
        if axes is None and len(ins) > 1:
            axes = ins[1]
        axes = None if axes is None else tuple(int(v) for v in axes)
        return [x.mean(axis=axes, keepdims=bool(a.get("keepdims", 1))).astype(x.dtype)]
    if op == "LayerNormalization":
        return [_layernorm(x, ins[1], ins[2] if len(ins) > 2 else None, a).astype(x.dtype)]
    if op == "Shape":
        return [np.array(x.shape, dtype=np.int64)]
    if op == "Gather":
        return [np.take(x, ins[1], axis=a.get("axis", 0))]
    if op == "Unsqueeze":
        axes = a.get("axes") if "axes" in a else ins[1]
        out = x
        for ax in sorted(int(v) % (x.ndim + len(axes)) for v in axes):
            out = np.expand_dims(out, ax)
        return [out]
    if op == "Squeeze":
        axes = a.get("axes") if "axes" in a else (ins[1] if len(ins) > 1 else None)
        return [np.squeeze(x, axis=None if axes is None else tuple(int(v) for v in axes))]
    if op == "Concat":
        return [np.concatenate(ins, axis=a["axis"])]
    if op == "ConstantOfShape":
        v = onnx.numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return [np.full([int(s) for s in x], v.reshape(-1)[0], dtype=v.dtype)]
    if op == "Where":
        return [np.where(ins[0], ins[1], ins[2])]
    if op == "Expand":
        shape = np.broadcast_shapes(x.shape, tuple(int(v) for v in ins[1]))
        return [np.broadcast_to(x, shape).copy()]
    if op == "Cast":
        return [x.astype(_NP_TYPES[a["to"]])]
    if op == "Slice":
        return [_slice(x, ins[1], ins[2], ins[3] if len(ins) > 3 else None, ins[4] if len(ins) > 4 else None)]
    if op == "Pad":
        mode = a.get("mode", b"constant")
        if mode not in (b"constant", "constant"):
            raise NotImplementedError(f"Pad mode {mode}")
        pads = [int(v) for v in ins[1]]
        cv = ins[2].reshape(-1)[0] if len(ins) > 2 and ins[2] is not None and ins[2].size else 0
        r = x.ndim
        return [np.pad(x, [(pads[i], pads[i + r]) for i in range(r)], constant_values=cv)]
    raise NotImplementedError(f"op {op}")


def run(model, feeds):
    """Evaluate an ONNX model (path or ModelProto) on numpy feeds; returns {output: array}."""
    if isinstance(model, str):
        model = onnx.load(model)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)
    env = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    env.update({k: np.asarray(v) for k, v in feeds.items()})
    for node in model.graph.node:
        ins = [env[n] if n else None for n in node.input]
        outs = _node(node.op_type, ins, _attrs(node), opset)
        for name, val in zip(node.output, outs):
            if name:
                env[name] = val
    return {o.name: env[o.name] for o in model.graph.output}
