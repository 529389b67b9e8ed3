"""Reads one of our quantized checkpoints (safetensors with I8 / U8 / I16 / I32 / F16 tensors, each one's
format, scales and zero points in the metadata key "quantization": docs/compression.md) into PyTorch:

- a float state_dict, every tensor dequantised: x = (q - zero_point) * scale in float32 (f16 widened);
- for intB tensors (2 to 8 bits), torch quantized tensors as well: qint8 (signed) or quint8 (unsigned),
  per tensor (torch._make_per_tensor_quantized_tensor) or per output channel
  (torch._make_per_channel_quantized_tensor, axis 0), whose dequantize() gives the same floats.

The `safetensors` package is not in Debian: the file is read by its specification.

As a command: python3 pytorch_quantized_load.py CHECKPOINT [--save STATE_DICT.pt]
  prints one JSON line describing each tensor; --save writes the float state_dict with torch.save.
As the tests call it: a JSON list on stdin, [{"checkpoint": PATH, "floatOut": PATH}, ...]; for each,
  writes the dequantised state_dict as an F32 safetensors file at floatOut and prints the JSON line.
"""

import json
import struct
import sys

import numpy as np
import torch

NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "I8": "i1", "U8": "u1", "I16": "<i2", "I32": "<i4"}


def read_safetensors(path):
    with open(path, "rb") as file:
        data = file.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    body = data[8 + length :]
    arrays = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        arrays[name] = (entry["dtype"], np.frombuffer(body[begin:end], dtype=NUMPY_DTYPES[entry["dtype"]]).reshape(entry["shape"]))
    return arrays, metadata


def integer_bits(format_name):
    """8 for "int8" / "uint8", None for "q6.10" or "f16"."""
    for prefix in ("uint", "int"):
        if format_name.startswith(prefix):
            return int(format_name[len(prefix) :])
    return None


def load_quantized(path):
    """(float state_dict, {name: torch quantized tensor} for intB tensors, metadata without "quantization")."""
    arrays, metadata = read_safetensors(path)
    quantization = json.loads(metadata.pop("quantization", "{}"))
    floats, quantized = {}, {}
    for name, (dtype, array) in arrays.items():
        info = quantization.get(name)
        if dtype == "F32":
            floats[name] = torch.from_numpy(array.copy())
            continue
        if info is None:
            raise ValueError(f"{path}: tensor {name} is {dtype} without a quantization entry")
        if info["format"] == "f16":
            floats[name] = torch.from_numpy(array.astype(np.float32))
            continue
        channels = array.shape[0] if "axis" in info else 1
        scales = np.array(info["scales"], dtype=np.float64).reshape([channels] + [1] * (array.ndim - 1))
        zero_points = np.array(info["zero_points"], dtype=np.int64).reshape(scales.shape)
        # (q - z) * s is exact in float64 for these formats; rounded once to float32, as the engine does.
        floats[name] = torch.from_numpy(((array.astype(np.int64) - zero_points) * scales).astype(np.float32))
        if integer_bits(info["format"]) is not None:
            signed = info["format"].startswith("int")
            codes = torch.from_numpy(array.astype(np.int8 if signed else np.uint8))
            if "axis" in info:
                quantized[name] = torch._make_per_channel_quantized_tensor(
                    codes, torch.tensor(info["scales"], dtype=torch.float64),
                    torch.tensor(info["zero_points"], dtype=torch.int64), int(info["axis"]))
            else:
                quantized[name] = torch._make_per_tensor_quantized_tensor(
                    codes, float(info["scales"][0]), int(info["zero_points"][0]))
    return floats, quantized, metadata


def write_float_safetensors(path, tensors):
    header, offset, chunks = {}, 0, []
    for name, tensor in tensors.items():
        raw = tensor.contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def describe(floats, quantized, metadata):
    tensors = {}
    for name, tensor in floats.items():
        entry = {"shape": list(tensor.shape)}
        if name in quantized:
            q = quantized[name]
            entry["torch"] = f"{q.dtype} {str(q.qscheme()).replace('torch.', '')}"
            # The torch quantized tensor's own dequantisation against ours (fbgemm may fuse the zero point).
            entry["dequantizeMaxDifference"] = float((q.dequantize() - tensor).abs().max()) if tensor.numel() else 0.0
        tensors[name] = entry
    return {"tensors": tensors, "metadata": metadata}


def main():
    if len(sys.argv) > 1:
        floats, quantized, metadata = load_quantized(sys.argv[1])
        if "--save" in sys.argv:
            torch.save(floats, sys.argv[sys.argv.index("--save") + 1])
    else:
        for request in json.load(sys.stdin):
            floats, quantized, metadata = load_quantized(request["checkpoint"])
            write_float_safetensors(request["floatOut"], floats)
            print(json.dumps(describe(floats, quantized, metadata)), flush=True)
        return
    print(json.dumps(describe(floats, quantized, metadata)), flush=True)


if __name__ == "__main__":
    main()
