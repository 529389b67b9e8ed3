"""PyTorch as a peer: the same workloads as our engine, timed the way we time ours.

Reads one JSON request on stdin, writes one JSON line on stdout (see lab/peers/pytorch.ts):
  {"workload": "probe"}
  {"workload": "train", "model": "lenet5" | [h1, h2], "device": "cpu" | "cuda", "batch": 4, "steps": 200}
  {"workload": "infer", "model": ..., "device": ..., "batch": 4, "batches": 100}
  {"workload": "matmul", "device": ..., "n": 4096, "batch": 64, "repeats": 20}
Any request may add "threads": N (torch.set_num_threads) to run on N CPU threads. With --serve it reads
one request per line and answers each with {"ok": true, "result": ...} or {"ok": false, "error": ...}.
"""

import json
import os
import sys
import time

import torch
from torch import nn

LEARNING_RATE = 0.0005
CLASSES = 10
WARMUP_STEPS = 3
INPUT_POOL = 4  # distinct resident batches, cycled


def lenet5():
    # PyTorch's default initialisation is already uniform +-1/sqrt(fan_in) for weights and biases.
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, CLASSES),
    )


def mlp(hidden):
    sizes = [784, *hidden]
    layers = []
    for inputs, outputs in zip(sizes, sizes[1:]):
        layers += [nn.Linear(inputs, outputs), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], CLASSES))


def build(model, device):
    network = lenet5() if model == "lenet5" else mlp(model)
    input_shape = (1, 32, 32) if model == "lenet5" else (784,)
    return network.to(device), input_shape


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def resident_batches(input_shape, batch, device):
    return [
        (torch.randn(batch, *input_shape, device=device),
         torch.randint(0, CLASSES, (batch,), device=device))
        for _ in range(INPUT_POOL)
    ]


def train(request):
    device, batch, steps = request["device"], request["batch"], request["steps"]
    network, input_shape = build(request["model"], device)
    batches = resident_batches(input_shape, batch, device)
    optimizer = torch.optim.SGD(network.parameters(), lr=LEARNING_RATE)
    loss_function = nn.CrossEntropyLoss()  # softmax cross-entropy, mean over the batch

    def step(index):
        images, labels = batches[index % INPUT_POOL]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(network(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    for i in range(WARMUP_STEPS):
        step(i)
    synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        loss = step(i)
    final_loss = loss.item()  # the one readback, as in our engine
    synchronize(device)
    seconds = time.perf_counter() - start
    if final_loss != final_loss:
        raise RuntimeError("training diverged: loss is NaN")
    return {"imagesPerSecond": batch * steps / seconds, "steps": steps, "seconds": seconds}


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


@torch.no_grad()
def infer(request):
    device, batch, count = request["device"], request["batch"], request["batches"]
    network, input_shape = build(request["model"], device)
    network.eval()
    inputs = [images for images, _ in resident_batches(input_shape, batch, device)]
    network(inputs[0]).cpu()  # warm-up
    synchronize(device)

    start = time.perf_counter()
    for i in range(count):
        logits = network(inputs[i % INPUT_POOL])
    logits.cpu()
    synchronize(device)
    streamed_ms = (time.perf_counter() - start) * 1000 / count

    latencies = []
    for i in range(count):
        begin = time.perf_counter()
        network(inputs[i % INPUT_POOL]).cpu()  # the copy to the host waits for the result
        latencies.append((time.perf_counter() - begin) * 1000)
    latencies.sort()
    return {
        "parameters": sum(parameter.numel() for parameter in network.parameters()),
        "streamedMsPerBatch": streamed_ms,
        "latencyMs": {
            "median": percentile(latencies, 0.5),
            "p10": percentile(latencies, 0.1),
            "p90": percentile(latencies, 0.9),
        },
    }


@torch.no_grad()
def matmul(request):
    device, n, batch, repeats = request["device"], request["n"], request["batch"], request["repeats"]
    left = torch.randn(batch, n, device=device)
    right = torch.randn(n, n, device=device)
    (left @ right).cpu()  # warm-up
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        product = left @ right
    product.cpu()
    synchronize(device)
    seconds = time.perf_counter() - start
    return {"gflops": 2 * batch * n * n * repeats / seconds / 1e9}


def blas_library():
    """The BLAS shared library this process loaded (Debian picks it with update-alternatives), after a
    matmul has made sure it is loaded; torch's build name for it where /proc is not there."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps
                     if "blas" in line.lower() and "lapack" not in line.lower() and "/" in line}
    except OSError:
        paths = set()
    if paths:
        return ", ".join(sorted(os.path.realpath(path) for path in paths))
    config = torch.__config__.show()
    return next((part for part in config.split() if part.startswith("BLAS_INFO=")), "unknown")


def probe(_request):
    cuda = torch.cuda.is_available()
    return {
        "torch": torch.__version__,
        "device": "cuda" if cuda else "cpu",
        "deviceName": torch.cuda.get_device_name(0) if cuda else "cpu",
        "threads": torch.get_num_threads(),
        "blas": blas_library(),
    }


WORKLOADS = {"probe": probe, "train": train, "infer": infer, "matmul": matmul}


def answer(request, default_threads):
    torch.set_num_threads(request.get("threads") or default_threads)
    if request.get("device") == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda asked for, but torch.cuda.is_available() is False")
    return WORKLOADS[request["workload"]](request)


def main():
    default_threads = torch.get_num_threads()
    if sys.argv[1:] == ["--serve"]:
        # One request per line, one answer per line, until stdin closes: torch is imported once.
        for line in sys.stdin:
            try:
                reply = {"ok": True, "result": answer(json.loads(line), default_threads)}
            except Exception as error:  # the caller reports it; the server goes on
                reply = {"ok": False, "error": f"{type(error).__name__}: {error}".splitlines()[0]}
            print(json.dumps(reply), flush=True)
        return
    print(json.dumps(answer(json.load(sys.stdin), default_threads)), flush=True)


if __name__ == "__main__":
    main()
