"""PyTorch's goldens for the kernel tests: tests/golden/NAME.json, made by PyTorch itself.

    /usr/bin/python3 scripts/goldens.py [--check] [NAME ...]

Each golden holds `case`, `note`, `torch`, `inputs` and `outputs`; every tensor is {shape, dtype, data},
data flattened row-major (NCHW), f32 printed to 9 significant digits (it parses back to the same
float32). A golden that exists keeps its inputs and has its outputs recomputed, so this script
regenerates the committed goldens (or, with --check, says how far PyTorch here is from them); a new
one draws its inputs from a fixed seed. mnist_stats needs the MNIST files and is not made here.
"""
import json
import pathlib
import sys

import torch
import torch.nn.functional as F

GOLDEN = pathlib.Path(__file__).resolve().parent.parent / "tests" / "golden"


def encode(t):
    t = t.detach()
    if t.dtype in (torch.int32, torch.int64):
        return {"shape": list(t.shape), "dtype": "i32", "data": [int(v) for v in t.flatten().tolist()]}
    values = t.to(torch.float32).flatten().tolist()
    return {"shape": list(t.shape), "dtype": "f32", "data": [float(f"{v:.9g}") for v in values]}


def decode(entry):
    data = torch.tensor(entry["data"], dtype=torch.int64 if entry["dtype"] == "i32" else torch.float32)
    return data.reshape(entry["shape"])


def with_grad(t):
    return t.clone().requires_grad_(True)


def elementwise(fn):
    def outputs(i):
        x = with_grad(i["x"])
        y = fn(x)
        (y * i["dy"]).sum().backward()
        return {"y": y, "dx": x.grad}
    return outputs


def dense(i):
    x, w, b = with_grad(i["x"]), with_grad(i["W"]), with_grad(i["b"])
    y = F.linear(x, w, b)
    (y * i["dy"]).sum().backward()
    return {"y": y, "dx": x.grad, "dW": w.grad, "db": b.grad}


def conv2d(i):
    x, w, b = with_grad(i["x"]), with_grad(i["W"]), with_grad(i["b"])
    y = F.conv2d(x, w, b)
    (y * i["dy"]).sum().backward()
    return {"y": y, "dx": x.grad, "dW": w.grad, "db": b.grad}


def pool(fn):
    def outputs(i):
        x = with_grad(i["x"])
        y = fn(x, 2)
        (y * i["dy"]).sum().backward()
        return {"y": y, "dx": x.grad}
    return outputs


def softmax_cross_entropy(i):
    logits = with_grad(i["logits"])
    loss = F.cross_entropy(logits, i["labels"])
    loss.backward()
    return {"loss": loss.reshape(1), "dlogits": logits.grad}


def lenet5(p, x, pool=F.max_pool2d):
    x = F.pad(x, (2, 2, 2, 2))
    x = pool(torch.tanh(F.conv2d(x, p["conv1.weight"], p["conv1.bias"])), 2)
    x = pool(torch.tanh(F.conv2d(x, p["conv2.weight"], p["conv2.bias"])), 2)
    x = torch.tanh(F.linear(x.flatten(1), p["fc1.weight"], p["fc1.bias"]))
    x = torch.tanh(F.linear(x, p["fc2.weight"], p["fc2.bias"]))
    return F.linear(x, p["fc3.weight"], p["fc3.bias"])


def mlp(p, x):
    x = x.flatten(1)
    layers = sorted({name.split(".")[0] for name in p})
    for n, layer in enumerate(layers):
        x = F.linear(x, p[f"{layer}.weight"], p[f"{layer}.bias"])
        if n + 1 < len(layers):
            x = torch.relu(x)
    return x


def sgd_step(model, lr):
    def outputs(i):
        p = {k[len("before."):]: with_grad(v) for k, v in i.items() if k.startswith("before.")}
        logits = model(p, i["x"])
        loss = F.cross_entropy(logits, i["labels"])
        loss.backward()
        out = {"logits": logits, "loss": loss.reshape(1)}
        out.update({f"grad.{k}": v.grad for k, v in p.items()})
        out.update({f"after.{k}": (v - lr * v.grad) for k, v in p.items()})
        return out
    return outputs


def avgpool2d_inputs():
    g = torch.Generator().manual_seed(18)
    # An odd height: its last row belongs to no window, and gets no gradient.
    x = torch.randn(2, 3, 7, 6, generator=g)
    dy = torch.randn(2, 3, 3, 3, generator=g)
    return {"x": x, "dy": dy}


def lenet5_avg(p, x):
    return lenet5(p, x, F.avg_pool2d)


def step_lenet5_inputs():
    # The same images, labels and initial weights as step_lenet5: only the pooling differs.
    stored = json.loads((GOLDEN / "step_lenet5.json").read_text())
    return {k: decode(v) for k, v in stored["inputs"].items()}


def fake_quant_per_tensor_inputs():
    g = torch.Generator().manual_seed(19)
    scale = torch.tensor([0.05])
    x = torch.randn(3, 5, 7, generator=g) * 3
    # Values on a rounding tie (k + 0.5 steps) and beyond both ends of the range.
    x.view(-1)[:6] = torch.tensor([0.025, 0.075, -0.125, 12.0, -0.6, 100.0])
    return {"x": x, "dy": torch.randn(3, 5, 7, generator=g), "scale": scale,
            "zero_point": torch.tensor([10], dtype=torch.int32), "qrange": torch.tensor([0, 255], dtype=torch.int32)}


def fake_quant_per_tensor(i):
    x = with_grad(i["x"])
    qmin, qmax = (int(v) for v in i["qrange"])
    y = torch.fake_quantize_per_tensor_affine(x, float(i["scale"][0]), int(i["zero_point"][0]), qmin, qmax)
    (y * i["dy"]).sum().backward()
    return {"y": y, "dx": x.grad}


def fake_quant_per_channel_inputs():
    g = torch.Generator().manual_seed(20)
    x = torch.randn(2, 4, 3, 3, generator=g)
    return {"x": x, "dy": torch.randn(2, 4, 3, 3, generator=g),
            "scale": torch.tensor([0.1, 0.25, 0.05, 0.4]),
            "zero_point": torch.tensor([0, -2, 3, 1], dtype=torch.int32),
            "qrange": torch.tensor([-8, 7], dtype=torch.int32)}


def fake_quant_per_channel(i):
    x = with_grad(i["x"])
    qmin, qmax = (int(v) for v in i["qrange"])
    y = torch.fake_quantize_per_channel_affine(x, i["scale"], i["zero_point"].to(torch.int32), 1, qmin, qmax)
    (y * i["dy"]).sum().backward()
    return {"y": y, "dx": x.grad}


def fake_quant_observers_inputs():
    g = torch.Generator().manual_seed(21)
    return {f"x{k}": torch.randn(4, 3, 5, generator=g) * (k + 1) + 0.5 * k for k in range(3)}


def fake_quant_observers(i):
    from torch.ao.quantization import (FakeQuantize, MinMaxObserver, MovingAverageMinMaxObserver,
                                       MovingAveragePerChannelMinMaxObserver)
    observers = {
        "moving_affine_uint8": MovingAverageMinMaxObserver(averaging_constant=0.01, dtype=torch.quint8,
                                                          qscheme=torch.per_tensor_affine),
        "moving_channel_symmetric_int8": MovingAveragePerChannelMinMaxObserver(
            averaging_constant=0.01, ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric),
        "minmax_symmetric_int8": MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric),
    }
    out = {}
    for name, observer in observers.items():
        for k in range(3):
            observer(i[f"x{k}"])
            scale, zero_point = observer.calculate_qparams()
            # Copies: the observer updates its buffers in place.
            out[f"{name}.{k}.min"] = observer.min_val.reshape(-1).clone()
            out[f"{name}.{k}.max"] = observer.max_val.reshape(-1).clone()
            out[f"{name}.{k}.scale"] = scale.reshape(-1)
            out[f"{name}.{k}.zero_point"] = zero_point.reshape(-1).to(torch.int32)
    # The whole module in training: each batch observed, then fake-quantised with the new parameters.
    module = FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                          dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    for k in range(3):
        x = with_grad(i[f"x{k}"])
        y = module(x)
        y.sum().backward()
        out[f"fake_quantize.{k}.y"] = y
        out[f"fake_quantize.{k}.dx"] = x.grad
    return out


def qat_step_mlp(i):
    """One QAT step of mlp-100-30 as eager-mode QAT places FakeQuantize: the input (QuantStub), each
    weight (per channel, symmetric int8), each layer's output after its ReLU (uint8 affine); the
    straight-through gradients; plain SGD at lr 0.05."""
    from torch.ao.quantization import (FakeQuantize, MovingAverageMinMaxObserver,
                                       MovingAveragePerChannelMinMaxObserver)

    def activation_fq():
        return FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                            dtype=torch.quint8, qscheme=torch.per_tensor_affine)

    def weight_fq():
        return FakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
                            dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)

    lr = 0.05
    p = {k[len("before."):]: with_grad(v) for k, v in i.items() if k.startswith("before.")}
    layers = sorted({name.split(".")[0] for name in p})
    points = {"fc1.input": activation_fq()}
    x = points["fc1.input"](i["x"].flatten(1))
    for n, layer in enumerate(layers):
        points[f"{layer}.weight"] = weight_fq()
        points[f"{layer}.activation"] = activation_fq()
        x = F.linear(x, points[f"{layer}.weight"](p[f"{layer}.weight"]), p[f"{layer}.bias"])
        if n + 1 < len(layers):
            x = torch.relu(x)
        x = points[f"{layer}.activation"](x)
    loss = F.cross_entropy(x, i["labels"])
    loss.backward()
    out = {"logits": x, "loss": loss.reshape(1)}
    out.update({f"after.{k}": (v - lr * v.grad) for k, v in p.items()})
    for name, fq in points.items():
        out[f"scale.{name}"] = fq.scale.reshape(-1).clone()
        out[f"zero_point.{name}"] = fq.zero_point.reshape(-1).to(torch.int32).clone()
    return out


def step_mlp_inputs():
    stored = json.loads((GOLDEN / "step_mlp-100-30.json").read_text())
    return {k: decode(v) for k, v in stored["inputs"].items()}


# name: (note, outputs from inputs, inputs for a new golden or None)
CASES = {
    "dense": ("y = x W^T + b; weight [out, in] as nn.Linear; dy given, gradients of sum(y * dy)", dense, None),
    "relu": ("relu; gradient at exactly 0 is 0", elementwise(torch.relu), None),
    "tanh": ("tanh, including |x| up to 100", elementwise(torch.tanh), None),
    "conv2d": (
        "conv2d as nn.Conv2d (cross-correlation), stride 1, no padding; NCHW; W [out, in, 5, 5]",
        conv2d,
        None,
    ),
    "maxpool2d": ("max_pool2d kernel 2 stride 2; inputs hold many ties", pool(F.max_pool2d), None),
    "avgpool2d": (
        "avg_pool2d kernel 2 stride 2 as nn.AvgPool2d(2); an odd last row belongs to no window",
        pool(F.avg_pool2d),
        avgpool2d_inputs,
    ),
    "softmax_cross_entropy": (
        "F.cross_entropy, mean over the batch; dlogits is the gradient of the loss",
        softmax_cross_entropy,
        None,
    ),
    "step_lenet5": (None, sgd_step(lenet5, 0.0005), None),
    "step_mlp-100-30": (None, sgd_step(mlp, 0.0005), None),
    "step_lenet5-avg": (
        "step_lenet5's step (same images, labels, weights and lr 0.0005) with avg_pool2d for max_pool2d",
        sgd_step(lenet5_avg, 0.0005),
        step_lenet5_inputs,
    ),
    "step_qat_mlp-100-30": (
        "step_mlp-100-30's images, labels and weights; one QAT step at lr 0.05 with FakeQuantize on the input, "
        "each weight (MovingAveragePerChannelMinMaxObserver, qint8 symmetric, axis 0) and each layer's output "
        "after its ReLU (MovingAverageMinMaxObserver, 0..255 affine): logits, loss, weights after, every scale "
        "and zero point",
        qat_step_mlp,
        step_mlp_inputs,
    ),
    "fake_quant_per_tensor": (
        "torch.fake_quantize_per_tensor_affine(x, scale, zero_point, qrange[0], qrange[1]); dx of sum(y * dy)",
        fake_quant_per_tensor,
        fake_quant_per_tensor_inputs,
    ),
    "fake_quant_per_channel": (
        "torch.fake_quantize_per_channel_affine(x, scale, zero_point, axis=1, qrange[0], qrange[1]); dx of sum(y * dy)",
        fake_quant_per_channel,
        fake_quant_per_channel_inputs,
    ),
    "fake_quant_observers": (
        "observers fed x0, x1, x2 in turn (min, max, scale, zero point after each): "
        "MovingAverageMinMaxObserver(0.01, quint8, affine), MovingAveragePerChannelMinMaxObserver(0.01, axis 0, "
        "qint8, symmetric), MinMaxObserver(qint8, symmetric); then FakeQuantize(MovingAverageMinMaxObserver, 0..255) "
        "in training on each batch: y and dx of sum(y)",
        fake_quant_observers,
        fake_quant_observers_inputs,
    ),
}


def largest_difference(stored, computed):
    a, b = decode(stored).double(), decode(encode(computed)).double()
    if a.shape != b.shape:
        return float("inf")
    scale = max(float(a.abs().max()), 1e-30)
    return float(((a - b).abs() / (a.abs() + scale * 1e-1)).max())


def main(argv):
    check = "--check" in argv
    names = [a for a in argv if not a.startswith("--")] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        sys.exit(f"goldens.py: no golden {', '.join(unknown)}: choose from {', '.join(CASES)}")
    worst = 0.0
    for name in names:
        note, outputs, new_inputs = CASES[name]
        path = GOLDEN / f"{name}.json"
        stored = json.loads(path.read_text()) if path.exists() else None
        if check and stored is None:
            print(f"{name}: not made yet")
            continue
        if stored is None and new_inputs is None:
            sys.exit(f"goldens.py: {path} is missing and its inputs cannot be drawn here")
        raw = {k: decode(v) for k, v in stored["inputs"].items()} if stored else new_inputs()
        # Inputs go through their 9-digit form first, so the outputs are of exactly what the file holds.
        inputs = {k: decode(encode(v)) for k, v in raw.items()}
        computed = outputs(inputs)
        if check:
            diffs = {k: largest_difference(stored["outputs"][k], v) for k, v in computed.items()}
            worst = max(worst, *diffs.values())
            print(f"{name}: largest relative difference {max(diffs.values()):.2e} ({max(diffs, key=diffs.get)})")
            continue
        golden = {
            "case": name,
            "note": note if note is not None else stored["note"],
            "torch": torch.__version__,
            "inputs": {k: encode(v) for k, v in inputs.items()},
            "outputs": {k: encode(v) for k, v in computed.items()},
        }
        path.write_text(json.dumps(golden, separators=(",", ":")))
        print(f"wrote {path}")
    if check and worst > 1e-5:
        sys.exit(f"goldens.py: PyTorch here differs from the committed goldens by up to {worst:.2e}")


if __name__ == "__main__":
    main(sys.argv[1:])
