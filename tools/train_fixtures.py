#!/usr/bin/python3
"""Train the committed Fashion-MNIST fixtures (ResNet-14, small ViT) and export ONNX.

Run with Debian's torch (NOT a pyenv/venv python):

    /usr/bin/python3 tools/train_fixtures.py --model all --out tests/fixtures

Model input convention: float32 NCHW [N,1,28,28] holding pixel/255 (values in [0,1]).
Any normalisation happens inside the model's forward and is exported into the graph.

Also writes the data slices (always, they are cheap):
  <out>/fmnist/t10k-{images-idx3,labels-idx1}-ubyte.gz         first 1000 test images
  <out>/fmnist_calib/train-{images-idx3,labels-idx1}-ubyte.gz  512 seeded train images
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402

FMNIST_MEAN = 0.2860
FMNIST_STD = 0.3530
SLICE_N = 1000
CALIB_N = 512
CALIB_SEED = 20240512  # fixed: the calibration set must not change with --seed


# --------------------------------------------------------------------------- models


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return F.relu(out + sc)


class ResNet14(nn.Module):
    """CIFAR-style ResNet: stem + 3 stages x 2 BasicBlocks (16/32/64) + GAP + FC."""

    def __init__(self, num_classes=10, in_ch=1, widths=(16, 32, 64), blocks=2):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers = []
        cin = widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(BasicBlock(cin, w, stride))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # zero-init the last BN of each block: the residual branch starts as identity
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x):
        x = (x - FMNIST_MEAN) / FMNIST_STD
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class Attention(nn.Module):
    def __init__(self, dim, heads, tokens):
        super().__init__()
        assert dim % heads == 0
        self.heads, self.hd, self.tokens, self.dim = heads, dim // heads, tokens, dim
        self.scale = self.hd ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _split(self, t):
        # [B,T,D] -> [B,H,T,hd]; static sizes so the ONNX Reshape gets a constant shape
        return t.reshape(-1, self.tokens, self.heads, self.hd).transpose(1, 2)

    def forward(self, x):
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        att = torch.matmul(q, k.transpose(2, 3)) * self.scale
        att = torch.softmax(att, dim=-1)
        out = torch.matmul(att, v).transpose(1, 2).reshape(-1, self.tokens, self.dim)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_dim, tokens):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, tokens)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.act = nn.GELU()  # exact (erf) form
        self.fc2 = nn.Linear(mlp_dim, dim)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.fc2(self.act(self.fc1(self.ln2(x))))
        return x


class ViT(nn.Module):
    """Plain pre-LN ViT with class token and learned position embedding."""

    def __init__(
        self,
        img=28,
        in_ch=1,
        patch=4,
        dim=64,
        depth=4,
        heads=4,
        mlp_dim=128,
        num_classes=10,
        normalize=(FMNIST_MEAN, FMNIST_STD),
    ):
        super().__init__()
        assert img % patch == 0
        self.np_ = (img // patch) ** 2
        self.tokens = self.np_ + 1
        self.dim = dim
        self.normalize = normalize
        self.patch_embed = nn.Conv2d(in_ch, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.tokens, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_dim, self.tokens) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        if self.normalize is not None:
            x = (x - self.normalize[0]) / self.normalize[1]
        x = self.patch_embed(x)  # [B,D,h,w]
        x = x.reshape(-1, self.dim, self.np_).transpose(1, 2)  # [B,P,D]
        # Equivalent to cat([cls_token.expand(B,1,D), x], 1) + pos_embed, but written as
        # "prepend a zero token, add (pos_embed with cls_token folded into row 0)" so the
        # ONNX graph is a constant Pad + Add instead of a Shape/Expand/Where chain.
        x = F.pad(x, (0, 0, 1, 0))
        x = x + torch.cat([self.cls_token + self.pos_embed[:, :1], self.pos_embed[:, 1:]], dim=1)
        x = self.blocks(x)
        x = self.norm(x)
        return self.head(x[:, 0])


def build(name):
    if name == "resnet14":
        return ResNet14()
    if name == "vit":
        return ViT()
    raise ValueError(name)


# --------------------------------------------------------------------------- data


def to_tensor(images):
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


def augment(x, gen, shift):
    """Random horizontal flip + random translation by up to `shift` px (zero padding)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if shift > 0:
        h, w = x.shape[2], x.shape[3]
        p = F.pad(x, (shift, shift, shift, shift))
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
        out = torch.empty_like(x)
        for i in range(n):
            out[i] = p[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
        x = out
    return x


@torch.no_grad()
def predict(model, x, bs=500):
    model.eval()
    outs = [model(x[i : i + bs]) for i in range(0, x.shape[0], bs)]
    return torch.cat(outs)


def top1(logits, labels):
    return (logits.argmax(1) == labels).float().mean().item()


def write_data_slices(out):
    ti, tl = fmnist.load("t10k")
    fmnist.write_idx(os.path.join(out, "fmnist", "t10k-images-idx3-ubyte.gz"), ti[:SLICE_N])
    fmnist.write_idx(os.path.join(out, "fmnist", "t10k-labels-idx1-ubyte.gz"), tl[:SLICE_N])
    tri, trl = fmnist.load("train")
    idx = np.sort(np.random.default_rng(CALIB_SEED).choice(tri.shape[0], CALIB_N, replace=False))
    fmnist.write_idx(os.path.join(out, "fmnist_calib", "train-images-idx3-ubyte.gz"), tri[idx])
    fmnist.write_idx(os.path.join(out, "fmnist_calib", "train-labels-idx1-ubyte.gz"), trl[idx])
    # read back and check
    a = fmnist.read_idx(os.path.join(out, "fmnist", "t10k-images-idx3-ubyte.gz"))
    b = fmnist.read_idx(os.path.join(out, "fmnist_calib", "train-labels-idx1-ubyte.gz"))
    assert a.shape == (SLICE_N, 28, 28) and np.array_equal(a, ti[:SLICE_N])
    assert b.shape == (CALIB_N,) and np.array_equal(b, trl[idx])
    print(f"data slices written: {SLICE_N} test, {CALIB_N} calib (train idx seed {CALIB_SEED})")
    return idx


# --------------------------------------------------------------------------- training


DEFAULTS = {
    # name: epochs, batch, shift, optimiser config
    "resnet14": dict(epochs=10, batch=128, shift=2),
    "vit": dict(epochs=6, batch=256, shift=2),
}


def train(name, epochs, seed, log_every=100):
    torch.manual_seed(seed)
    np.random.seed(seed)
    gen = torch.Generator().manual_seed(seed)
    cfg = DEFAULTS[name]
    model = build(name)
    tri, trl = fmnist.load("train")
    tei, tel = fmnist.load("t10k")
    xtr, ytr = to_tensor(tri), torch.from_numpy(trl.astype(np.int64))
    xte, yte = to_tensor(tei), torch.from_numpy(tel.astype(np.int64))
    n = xtr.shape[0]
    bs = cfg["batch"]
    steps_per_epoch = n // bs  # drop last partial batch (keeps BN batches full)
    total = steps_per_epoch * epochs

    if name == "resnet14":
        decay, no_decay = [], []
        for pn, p in model.named_parameters():
            (no_decay if p.ndim <= 1 else decay).append(p)
        opt = torch.optim.SGD(
            [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
            lr=0.1, momentum=0.9, nesterov=True,
        )
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=0.15, total_steps=total, pct_start=0.25, div_factor=10, final_div_factor=100
        )
        crit = nn.CrossEntropyLoss()
    else:
        decay, no_decay = [], []
        for pn, p in model.named_parameters():
            (no_decay if (p.ndim <= 1 or pn in ("cls_token", "pos_embed")) else decay).append(p)
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
            lr=2e-3, betas=(0.9, 0.999),
        )
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=2e-3, total_steps=total, pct_start=0.15, div_factor=20,
            final_div_factor=100, anneal_strategy="cos", cycle_momentum=False,
        )
        crit = nn.CrossEntropyLoss(label_smoothing=0.1)

    nparams = sum(p.numel() for p in model.parameters())
    print(f"[{name}] params={nparams} epochs={epochs} steps/epoch={steps_per_epoch} seed={seed}", flush=True)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        run_loss, run_n, te = 0.0, 0, time.time()
        for s in range(steps_per_epoch):
            idx = perm[s * bs : (s + 1) * bs]
            xb = augment(xtr[idx], gen, cfg["shift"])
            yb = ytr[idx]
            loss = crit(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if name == "vit":
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            run_loss += loss.item()
            run_n += 1
            if (s + 1) % log_every == 0:
                print(
                    f"  ep {ep + 1} step {s + 1}/{steps_per_epoch} loss {run_loss / run_n:.4f} "
                    f"lr {sched.get_last_lr()[0]:.4g} {time.time() - te:.0f}s",
                    flush=True,
                )
        acc = top1(predict(model, xte), yte)
        print(
            f"[{name}] epoch {ep + 1}/{epochs} loss {run_loss / run_n:.4f} test top1 {acc * 100:.2f}% "
            f"epoch {time.time() - te:.0f}s total {time.time() - t0:.0f}s",
            flush=True,
        )
    train_seconds = time.time() - t0
    model.eval()
    return model, nparams, train_seconds, (xte, yte)


# --------------------------------------------------------------------------- export


def export(model, path, opset, preserve_bn=False):
    import onnx

    model.eval()
    dummy = torch.zeros(2, 1, 28, 28)
    kw = dict(
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset,
    )
    if preserve_bn:
        kw.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    else:
        kw.update(do_constant_folding=True)
    torch.onnx.export(model, dummy, path, **kw)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = {}
    for nd in m.graph.node:
        ops[nd.op_type] = ops.get(nd.op_type, 0) + 1
    if preserve_bn:
        bns = [nd for nd in m.graph.node if nd.op_type == "BatchNormalization"]
        assert bns, f"{path}: no BatchNormalization nodes"
        for nd in bns:
            assert len(nd.output) == 1, f"{path}: BN {nd.name} has {len(nd.output)} outputs (training form)"
            for a in nd.attribute:
                if a.name == "training_mode":
                    assert a.i == 0
    else:
        assert "BatchNormalization" not in ops, f"{path}: BN not folded"
    size = os.path.getsize(path)
    assert size < 2 * 1024 * 1024, f"{path}: {size} bytes"
    print(f"  {os.path.basename(path)}: opset {opset} {size} bytes ops {dict(sorted(ops.items()))}", flush=True)
    return ops


def check_numpy_eval(path, x, ref):
    """Re-run the exported graph with the small numpy evaluator, compare with torch."""
    try:
        import onnx_np_eval
    except ImportError:
        return None
    out = onnx_np_eval.run(path, {"input": x.numpy()})["logits"]
    err = float(np.abs(out - ref.numpy()).max())
    print(f"  numpy re-run of {os.path.basename(path)}: max|diff| vs torch = {err:.3g}", flush=True)
    assert err < 1e-3, f"{path}: numpy evaluator disagrees with torch ({err})"
    return err


def finish(name, model, nparams, train_seconds, epochs, seed, test, out):
    xte, yte = test
    logits = predict(model, xte)
    acc = top1(logits, yte)
    acc_slice = top1(logits[:SLICE_N], yte[:SLICE_N])
    print(f"[{name}] final: top1 10k {acc * 100:.2f}%  first-1000 {acc_slice * 100:.2f}%", flush=True)

    files = []
    for op in (13, 17):
        fn = f"{name}_op{op}.onnx"
        export(model, os.path.join(out, fn), op)
        files.append(fn)
    if name == "resnet14":
        fn = "resnet14_bn_op13.onnx"
        export(model, os.path.join(out, fn), 13, preserve_bn=True)
        files.append(fn)

    torch.save(model.state_dict(), os.path.join("/tmp", f"{name}_state.pt"))
    ref8 = predict(model, xte[:8])
    for fn in files:
        check_numpy_eval(os.path.join(out, fn), xte[:8], ref8)

    meta = {
        "model": name,
        "files": files,
        "params": nparams,
        "epochs": epochs,
        "seed": seed,
        "top1_test10k": round(acc, 6),
        "top1_slice1000": round(acc_slice, 6),
        "train_seconds": round(train_seconds, 1),
        "torch_version": torch.__version__,
        "input": "float32 [N,1,28,28], pixel/255",
    }
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    ref = {
        "model": name,
        "images": "first 8 images of Fashion-MNIST t10k (= tests/fixtures/fmnist slice)",
        "input": "float32 [8,1,28,28], pixel/255",
        "labels": [int(v) for v in yte[:8]],
        "argmax": [int(v) for v in ref8.argmax(1)],
        "logits": [[float("%.9g" % v) for v in row] for row in ref8.tolist()],
    }
    with open(os.path.join(out, f"{name}_ref_logits.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(json.dumps(meta), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["resnet14", "vit", "all", "none"], default="all",
                    help="'none' only writes the data slices")
    ap.add_argument("--epochs", type=int, default=None,
                    help="default: resnet14 %d, vit %d" % (DEFAULTS["resnet14"]["epochs"], DEFAULTS["vit"]["epochs"]))
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    write_data_slices(args.out)
    names = {"all": ["resnet14", "vit"], "none": []}.get(args.model, [args.model])
    for name in names:
        epochs = args.epochs or DEFAULTS[name]["epochs"]
        model, nparams, secs, test = train(name, epochs, args.seed)
        finish(name, model, nparams, secs, epochs, args.seed, test, args.out)


if __name__ == "__main__":
    main()
