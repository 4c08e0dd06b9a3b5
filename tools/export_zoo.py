#!/usr/bin/python3
"""Export larger random-weight models for import/perf tests (NOT committed).

    /usr/bin/python3 tools/export_zoo.py --out .cache/zoo --models resnet18,mobilenet_v2,vit_tiny

Per model NAME writes into --out:
  NAME.onnx        opset 13 (CNNs) / 17 (vit_tiny); input "input" [N,3,224,224] float32,
                   output "logits" [N,1000]; dynamic batch axis
  NAME.input.bin   the reference input, raw float32 little-endian, shape [1,3,224,224]
  NAME.ref.json    torch's logits for that input (+ shapes, seeds, versions)

Weights are random but seeded (torch.manual_seed(--seed)); for the CNNs the BN running
stats are then set from 16 random inputs (seed --seed + 2) so activations don't vanish; the input is
torch.randn(1,3,224,224) from a generator seeded with --seed + 1.
"""

import argparse
import inspect
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_fixtures import ViT  # noqa: E402

OPSET = {"resnet18": 13, "mobilenet_v2": 13, "vit_tiny": 17}


def build(name):
    if name == "resnet18":
        return torchvision.models.resnet18(weights=None)
    if name == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(weights=None)
    if name == "vit_tiny":
        # ViT-Tiny/16 sizes; same module as the Fashion-MNIST fixture ViT
        return ViT(img=224, in_ch=3, patch=16, dim=192, depth=12, heads=3, mlp_dim=768,
                   num_classes=1000, normalize=None)
    raise ValueError(f"unknown model {name}")


@torch.no_grad()
def recalibrate_bn(model, seed):
    """Set BN running stats from random inputs (cumulative average over 2 batches of 8).

    With fresh BN stats (mean 0, var 1) the random-weight mobilenet_v2 gives logits of
    ~1e-9 (activations vanish), useless as a reference; with batch statistics each BN
    normalises its input, so activations and logits have sensible ranges.
    """
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    for _ in range(2):
        model(torch.randn(8, 3, 224, 224, generator=gen))
    model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".cache/zoo")
    ap.add_argument("--models", default="resnet18,mobilenet_v2,vit_tiny")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-check", action="store_true",
                    help="skip re-running the exported graph with tools/onnx_np_eval.py")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    import onnx

    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        t0 = time.time()
        torch.manual_seed(args.seed)
        model = build(name)
        if name != "vit_tiny":
            recalibrate_bn(model, args.seed + 2)
        model.eval()
        nparams = sum(p.numel() for p in model.parameters())
        gen = torch.Generator().manual_seed(args.seed + 1)
        x = torch.randn(1, 3, 224, 224, generator=gen)
        with torch.no_grad():
            logits = model(x)
        path = os.path.join(args.out, f"{name}.onnx")
        opset = OPSET[name]
        # the TorchScript exporter: torch >= 2.9 defaults to the dynamo one, which raises the
        # opset to 18 and writes the weights as external data (edgeq reads single files)
        legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        torch.onnx.export(
            model, x, path, input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=opset, do_constant_folding=True, **legacy,
        )
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        ops = {}
        for nd in m.graph.node:
            ops[nd.op_type] = ops.get(nd.op_type, 0) + 1
        x.numpy().astype("<f4").tofile(os.path.join(args.out, f"{name}.input.bin"))
        diff = None
        if not args.no_check:
            import onnx_np_eval

            out = onnx_np_eval.run(m, {"input": x.numpy()})["logits"]
            diff = float(np.abs(out - logits.numpy()).max())
            assert diff < 1e-3 * max(1.0, float(logits.abs().max())), f"{name}: numpy re-run differs by {diff}"
        ref = {
            "model": name,
            "file": f"{name}.onnx",
            "opset": opset,
            "params": nparams,
            "weights": f"random, torch.manual_seed({args.seed})"
            + ("" if name == "vit_tiny" else f"; BN stats from 2x8 randn inputs (seed {args.seed + 2})"),
            "input_file": f"{name}.input.bin",
            "input_shape": [1, 3, 224, 224],
            "input_dtype": "float32 little-endian raw",
            "input_desc": f"torch.randn(1,3,224,224, generator=manual_seed({args.seed + 1}))",
            "logits_shape": list(logits.shape),
            "logits": [float("%.9g" % v) for v in logits.reshape(-1).tolist()],
            "argmax": int(logits.argmax()),
            "op_types": dict(sorted(ops.items())),
            "numpy_check_max_abs_diff": diff,
            "torch_version": torch.__version__,
            "torchvision_version": torchvision.__version__,
        }
        with open(os.path.join(args.out, f"{name}.ref.json"), "w") as f:
            json.dump(ref, f, indent=1)
            f.write("\n")
        print(
            f"{name}: {nparams} params, opset {opset}, {os.path.getsize(path)} bytes, "
            f"numpy diff {diff}, {time.time() - t0:.0f}s, ops {dict(sorted(ops.items()))}",
            flush=True,
        )


if __name__ == "__main__":
    main()
