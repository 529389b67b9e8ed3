"""Static int8 of an MLP in torch.ao (qnnpack), at the scales and zero points the engine chose.

Reads JSON on stdin: the float input [B, IN], the input's scale and zero point (int8), and per dense
layer its int8 weights [OUT, IN] with their per-tensor scale, its float bias, its output scale and zero
point (int8), and whether ReLU is fused. Prints JSON: each layer's output as int8 (quint8 - 128).
"""
import json
import sys

import torch
import torch.ao.nn.quantized as nnq
import torch.nn.intrinsic.quantized as nniq

torch.backends.quantized.engine = "qnnpack"
request = json.load(sys.stdin)
x = torch.tensor(request["x"], dtype=torch.float32).reshape(request["batch"], -1)
# int8 with zero point z is quint8 with zero point z + 128: the same real values, each integer + 128.
q = torch.quantize_per_tensor(x, request["inputScale"], request["inputZeroPoint"] + 128, torch.quint8)
outputs = [(q.int_repr().to(torch.int32) - 128).flatten().tolist()]
for layer in request["layers"]:
    weight = torch.tensor(layer["weight"], dtype=torch.int8)
    qweight = torch._make_per_tensor_quantized_tensor(weight, layer["weightScale"], 0)
    out_features, in_features = weight.shape
    module = (nniq.LinearReLU if layer["relu"] else nnq.Linear)(in_features, out_features)
    module.set_weight_bias(qweight, torch.tensor(layer["bias"], dtype=torch.float32))
    module.scale = layer["outputScale"]
    module.zero_point = layer["outputZeroPoint"] + 128
    q = module(q)
    outputs.append((q.int_repr().to(torch.int32) - 128).flatten().tolist())
print(json.dumps({"outputs": outputs}))
