"""Trains the PyTorch module of one of our networks from the engine's initial weights in the engine's
batch order, so that `deno task crosscheck` can compare the two runs epoch by epoch (lab/crosscheck.ts).

Everything that could differ is handed over rather than re-derived: the initial weights (our
safetensors checkpoint, loaded with strict=True), every epoch's permutation of the training images
(the one the engine's gather read), every epoch's learning rate, and the pixel mean and std the
engine normalised with. The rest is the lab's protocol: plain SGD, softmax cross-entropy averaged over
the batch (a last, partial batch averaged over the samples it has), the training loss of an epoch the
mean of its per-sample losses, the test accuracy after each epoch.

Request (JSON on stdin):
  {"checkpoint": PATH, "model": "lenet5" | "mlp-H[-H2]", "mnist": DIR, "pixelMean": M, "pixelStd": S,
   "trainCount": N, "testCount": T, "batch": B, "rates": [per epoch], "orders": PATH,
   "device": "cpu" | "cuda" (optional: cuda where torch sees one), "threads": K (optional),
   "float64": true (optional: train in float64, a reference free of float32 rounding)}
`orders` is a file of epochs x N little-endian uint32: epoch e's permutation of images 0 .. N-1.
Answer: one JSON line per epoch, {"epoch": e, "trainLoss": ..., "testAccuracy": ..., "seconds": ...},
after a first line {"torch": VERSION, "device": ..., "threads": ...}.
"""

import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from pytorch_checkpoint import LeNet5, MLP, read_idx, read_safetensors

EVAL_BATCH = 1000  # test images per forward pass: the batch size does not change a sample's logits


def build(name):
    return LeNet5() if name == "lenet5" else MLP([int(h) for h in name.split("-")[1:]])


def normalised(images, count, mean, std, device, dtype):
    # Step by step as the engine's gather kernel does (in float32 unless asked for float64): byte / 255,
    # minus the mean, over the std.
    real = np.float64 if dtype == torch.float64 else np.float32
    x = images[:count].astype(real) / real(255.0)
    x = (x - real(mean)) / real(std)
    return torch.from_numpy(x).unsqueeze(1).to(device)


def main():
    request = json.load(sys.stdin)
    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    device = request.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda asked for, but torch.cuda.is_available() is False")
    print(json.dumps({"torch": torch.__version__, "device": device, "threads": torch.get_num_threads()}),
          flush=True)

    tensors, _ = read_safetensors(request["checkpoint"])
    model = build(request["model"])
    model.load_state_dict(tensors, strict=True)
    dtype = torch.float64 if request.get("float64") else torch.float32
    model.to(device, dtype)

    count, test_count, batch = request["trainCount"], request["testCount"], request["batch"]
    mean, std = request["pixelMean"], request["pixelStd"]
    train_x = normalised(read_idx(request["mnist"], "train-images-idx3-ubyte"), count, mean, std, device, dtype)
    train_y = torch.from_numpy(read_idx(request["mnist"], "train-labels-idx1-ubyte")[:count].astype(np.int64))
    train_y = train_y.to(device)
    test_x = normalised(read_idx(request["mnist"], "t10k-images-idx3-ubyte"), test_count, mean, std, device, dtype)
    test_y = read_idx(request["mnist"], "t10k-labels-idx1-ubyte")[:test_count]

    rates = request["rates"]
    orders = np.fromfile(request["orders"], dtype="<u4")
    if orders.size != len(rates) * count:
        raise ValueError(f"{request['orders']} holds {orders.size} indices, not {len(rates)} epochs x {count}")
    orders = orders.reshape(len(rates), count).astype(np.int64)

    optimizer = torch.optim.SGD(model.parameters(), lr=rates[0])
    for epoch, rate in enumerate(rates, start=1):
        for group in optimizer.param_groups:
            group["lr"] = rate
        model.train()
        order = torch.from_numpy(orders[epoch - 1]).to(device)
        # Summed on the device in float64, read once per epoch: no per-step wait for the device.
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        start = time.perf_counter()
        for first in range(0, count, batch):
            picked = order[first:first + batch]
            per_sample = F.cross_entropy(model(train_x[picked]), train_y[picked], reduction="none")
            optimizer.zero_grad(set_to_none=True)
            per_sample.mean().backward()
            optimizer.step()
            loss_sum += per_sample.detach().double().sum()
        train_loss = loss_sum.item() / count
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            predictions = torch.cat([
                model(test_x[first:first + EVAL_BATCH]).argmax(dim=1)
                for first in range(0, test_count, EVAL_BATCH)
            ]).cpu().numpy()
        accuracy = float((predictions == test_y).mean())
        print(json.dumps({"epoch": epoch, "trainLoss": train_loss, "testAccuracy": accuracy,
                          "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
