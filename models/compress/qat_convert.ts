/**
 * From quantization-aware training to the integer model: the ranges QAT's observers hold become the
 * calibration that `convertStatic` quantizes with, so the converted model uses the scales the
 * fake-quantised model was trained at.
 */
import { UserError } from "../../engine/errors.ts";
import { ActivationLayer } from "../layers/activation.ts";
import { Conv2d } from "../layers/conv2d.ts";
import { Dense } from "../layers/dense.ts";
import type { ModelSpec } from "../model.ts";
import type { Calibration } from "../quantized/convert.ts";
import type { QatParams, QuantPointParams } from "./qat.ts";

/** One range over every channel of a point (the integer model's activations are per tensor). */
function rangeOf(point: QuantPointParams): { min: number; max: number } {
  return { min: Math.min(...point.min), max: Math.max(...point.max) };
}

/**
 * The calibration `convertStatic` takes, read from QAT's points: the first layer's input point, and
 * each dense or convolution layer's output point (after its fused activation) where the integer model
 * quantizes that output. QAT never quantizes a pre-tanh value (tanh is fused before the fake
 * quantization), while the integer model's tanh table reads an int8 input: such ranges, and the layers
 * that pass values through (pooling, the activations), come from `observed`, a float calibration of the
 * same weights.
 */
export function qatCalibration(spec: ModelSpec, params: QatParams, observed: Calibration): Calibration {
  if (params.model !== spec.name) {
    throw new UserError(`the QAT parameters are for ${params.model}, not ${spec.name}`);
  }
  const first = Object.values(params.layers)[0]?.input;
  if (!first) throw new UserError(`the QAT parameters of ${spec.name} have no input point`);
  const outputs = [...observed.outputs];
  spec.layers.forEach((layer, i) => {
    if (!(layer instanceof Dense || layer instanceof Conv2d)) return;
    const point = params.layers[layer.name]?.activation;
    if (!point) {
      throw new UserError(`the QAT parameters of ${spec.name} have no output point for ${layer.name}`);
    }
    const next = spec.layers[i + 1];
    const activation = next instanceof ActivationLayer ? next.activation : undefined;
    if (activation === undefined) outputs[i] = rangeOf(point);
    else if (activation === "relu") outputs[i + 1] = rangeOf(point);
  });
  return { input: rangeOf(first), outputs };
}
