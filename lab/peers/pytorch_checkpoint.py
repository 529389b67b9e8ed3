"""Loads one of our safetensors checkpoints into the PyTorch module of the same network, with
strict=True, and measures its MNIST test accuracy: the proof that checkpoints travel.

The `safetensors` package is not in Debian, so the file is read here by its specification
(8-byte little-endian header length, JSON header, raw little-endian data), into plain tensors; a
quantized checkpoint (I8 / U8 / I16 / I32 / F16 tensors) is read dequantised, so its accuracy in
PyTorch stands beside ours.
Request (JSON on stdin): {"checkpoint": PATH, "model": "lenet5" | "mlp-300-100", "mnist": DIR}
Answer (one JSON line): {"testAccuracy": ..., "tensors": [...], "metadata": {...}}
"""

import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from pytorch_quantized_load import load_quantized


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.pad(x, (2, 2, 2, 2))
        x = F.max_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.max_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


class MLP(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        sizes = [784, *hidden, 10]
        for i in range(len(sizes) - 1):
            setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
        self.layers = len(sizes) - 1

    def forward(self, x):
        x = torch.flatten(x, 1)
        for i in range(1, self.layers + 1):
            x = getattr(self, f"fc{i}")(x)
            if i < self.layers:
                x = F.relu(x)
        return x


def read_safetensors(path):
    """A float checkpoint's tensors, or a quantized one's dequantised (pytorch_quantized_load.py)."""
    tensors, _, metadata = load_quantized(path)
    return tensors, metadata


def read_idx(directory, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(path, "rb") as file:
                data = file.read()
            dims = data[3]
            shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    raise FileNotFoundError(os.path.join(directory, name))


def main():
    request = json.load(sys.stdin)
    tensors, metadata = read_safetensors(request["checkpoint"])
    name = request["model"]
    model = LeNet5() if name == "lenet5" else MLP([int(h) for h in name.split("-")[1:]])
    model.load_state_dict(tensors, strict=True)
    model.eval()
    mean, std = float(metadata["pixelMean"]), float(metadata["pixelStd"])
    images = read_idx(request["mnist"], "t10k-images-idx3-ubyte")
    labels = read_idx(request["mnist"], "t10k-labels-idx1-ubyte")
    limit = int(request.get("testLimit", len(labels)))
    x = torch.from_numpy(images[:limit].astype(np.float32) / 255.0)
    x = ((x - mean) / std).unsqueeze(1)
    with torch.no_grad():
        predictions = model(x).argmax(dim=1).numpy()
    accuracy = float((predictions == labels[:limit]).mean())
    print(json.dumps({"testAccuracy": accuracy, "tensors": sorted(tensors), "metadata": metadata}), flush=True)


if __name__ == "__main__":
    main()
