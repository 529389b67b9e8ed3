"""op_bytes in PyTorch's own words: the bytes its profiler (profile_memory=True) sees the operators of one
inference batch allocate, summed over the top-level operators, for the networks of pytorch_peer.py with
the lab's input handling in front (LeNet-5: 28x28 images zero-padded to 32x32 by an operator; an MLP:
the images flattened, a view). The reference for lab/measure.ts's opBytes.

Reads {"models": ["lenet5", [300], [300, 100]], "batch": 4} on stdin; writes
{"written": {"lenet5": 250016, ...}, "profiler": {"lenet5": [seven runs], ...}}.
"""

import json
import sys

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from pytorch_peer import lenet5, mlp


def network(model):
    if model == "lenet5":
        return nn.Sequential(nn.ZeroPad2d(2), *lenet5())
    return nn.Sequential(nn.Flatten(), *mlp(model))


def name(model):
    return model if model == "lenet5" else "mlp-" + "-".join(str(size) for size in model)


@torch.no_grad()
def profiled_bytes(model, batch):
    """The profiler's figure: the top-level operators' allocations. PyTorch 1.13 matches memory events
    to operators by their timestamps, so a run now and then gives an operator a neighbour's bytes."""
    net = network(model).eval()
    images = torch.randn(batch, 1, 28, 28)
    net(images)  # warm-up: first-call allocations are not the model's
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        net(images)
    # Top-level operators only, in order. The profiler now and then leaves a child without its parent, at
    # the parent's very time range: an event inside the last one kept is such a child.
    top = []
    for event in prof.events():
        if event.name == "[memory]" or event.cpu_parent is not None:
            continue
        last = top[-1].time_range if top else None
        if last and last.start <= event.time_range.start and event.time_range.end <= last.end:
            continue
        top.append(event)
    return sum(max(0, e.cpu_memory_usage) for e in top)


@torch.no_grad()
def written_bytes(model, batch):
    """The same count without the profiler's races: each module's output that is not a view of its input
    (forward hooks on every leaf module), which is what each operator allocated."""
    net = network(model).eval()
    total = 0

    def count(_module, _inputs, output):
        nonlocal total
        if output._base is None:
            total += output.numel() * output.element_size()

    for module in net:
        module.register_forward_hook(count)
    net(torch.randn(batch, 1, 28, 28))
    return total


def main():
    request = json.load(sys.stdin)
    torch.set_num_threads(1)
    models, batch = request["models"], request["batch"]
    print(json.dumps({
        "written": {name(m): written_bytes(m, batch) for m in models},
        "profiler": {name(m): [profiled_bytes(m, batch) for _ in range(7)] for m in models},
    }))


if __name__ == "__main__":
    main()
