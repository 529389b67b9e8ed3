/**
 * Post-training quantization, in torch.ao.quantization's terms: calibrate (observers on N images),
 * then convert a float model (its spec and state_dict) into a quantized one: static int8 (every
 * activation int8 at calibrated scales), dynamic int8 (dense layers only, activations quantized per
 * batch, as PyTorch's quantize_dynamic), or weight-only at 2 to 8 bits. Plain functions: a model and
 * options in, a `QuantizedModel` out; nothing printed.
 */
import type { Backend } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import {
  affineParamsFromRange,
  integerFormat,
  integerRange,
  quantizedMultiplier,
  quantizeValue,
  roundHalfEven,
} from "../../engine/quantization.ts";
import { packInt8Rows, wordsFor } from "../../kernels/quantize/int8.ts";
import { ACTIVATION_FORMAT } from "../../kernels/quantize/quantize.ts";
import { DeviceDataSet, type LabelledImages, type PixelStats } from "../dataset.ts";
import { ActivationLayer } from "../layers/activation.ts";
import { Conv2d } from "../layers/conv2d.ts";
import { Dense } from "../layers/dense.ts";
import type { Layer } from "../layers/layer.ts";
import { MaxPool2d } from "../layers/pool.ts";
import { CompiledModel, type ModelSpec } from "../model.ts";
import {
  DequantizeOutput,
  DynamicDense,
  Int8Conv2d,
  Int8Dense,
  type Int8GemmParams,
  Int8Lookup,
  Int8MaxPool,
  type PackedWeights,
  type QParams,
  QuantizeInput,
  WeightOnly,
} from "./layers.ts";
import { makeObserver, type ObserverKind } from "./observers.ts";

/** A float model's parameters by state_dict name. */
export type FloatWeights = ReadonlyMap<string, ArrayLike<number>>;

/** A quantized model: its spec (quantized layers) and the float parameters its float layers still load. */
export interface QuantizedModel {
  /** Its layers, quantized ones among them. */
  readonly spec: ModelSpec;
  /** What its float layers load (e.g. the convolutions of a dynamic model, a weight-only model's biases). */
  readonly floatParameters: ReadonlyMap<string, ArrayLike<number>>;
  /** Bytes of every parameter at its stored precision (int8, b bits, int32 biases, float scales). */
  readonly parameterBytes: number;
}

/** The ranges calibration saw: the input's, and each layer's output (activations not fused). */
export interface Calibration {
  /** The model's input (after normalisation and padding). */
  readonly input: { min: number; max: number };
  /** Each layer's output, in the spec's order, activations separate. */
  readonly outputs: readonly { min: number; max: number }[];
}

/** The output of tanh in int8, as PyTorch fixes it (quint8 scale 2/256, zero point 128): [-1, 1) exactly. */
export const TANH_QPARAMS: QParams = { scale: 2 / 256, zeroPoint: 0 };

/** The spec's layers as they are, none fusing the activation after it: calibration sees pre-activations. */
function unfused(spec: ModelSpec): ModelSpec {
  const layers = spec.layers.map((layer): Layer => ({
    describe: () => layer.describe(),
    build: (context, input, needsInputGrad) => layer.build(context, input, needsInputGrad),
  }));
  return { ...spec, layers };
}

/**
 * Runs the float model on the first `count` images of `images` and observes its input and each
 * layer's output (pre-activation), batch after batch.
 */
export async function calibrate(
  backend: Backend,
  spec: ModelSpec,
  weights: FloatWeights,
  images: LabelledImages,
  stats: PixelStats,
  options: { count: number; observer: ObserverKind; batch?: number },
): Promise<Calibration> {
  const { count } = options;
  if (!Number.isInteger(count) || count < 1 || count > images.count) {
    throw new UserError(`calibration takes 1 to ${images.count} images (the set's size), not ${count}`);
  }
  const batch = Math.min(options.batch ?? 64, count);
  const model = new CompiledModel(backend, unfused(spec), batch, 0, { training: false });
  model.loadParameters(
    new Map([...weights].filter(([name]) => model.parameters.some((p) => p.name === name))),
  );
  const set = new DeviceDataSet(backend, "calibration", images, stats, count);
  const step = backend.tensor("calibration.step", "u32", [1]);
  const tensors = model.activations();
  const observers = tensors.map(() => makeObserver(options.observer));
  try {
    const program = [set.gatherAt(model, step), ...model.forward];
    for (let s = 0; s < set.steps(batch); s++) {
      backend.write(step, [s]);
      backend.run(program);
      const samples = Math.min(batch, count - s * batch);
      for (let t = 0; t < tensors.length; t++) {
        const values = await backend.read(tensors[t]);
        observers[t].observe(values.subarray(0, (values.length / batch) * samples));
      }
    }
  } finally {
    set.release();
    backend.release(step);
  }
  const [input, ...outputs] = observers.map((o) => o.range());
  return { input, outputs };
}

/**
 * A real multiplier as a Q0.31 multiplier and a shift; one of 1 or more shifts left (a negative shift).
 * A shift past 31 (a multiplier below 2^-32) is not a shift WGSL or JavaScript can make: the shift stops
 * at 31 and the multiplier takes the rest, losing low bits (TFLite zeroes such a multiplier instead).
 */
export function requantization(real: number): { multiplier: number; shift: number } {
  if (real < 1) {
    const { multiplier, shift } = quantizedMultiplier(real);
    if (shift <= 31) return { multiplier, shift };
    return { multiplier: roundHalfEven(multiplier / 2 ** (shift - 31)), shift: 31 };
  }
  let shift = 0, mantissa = real;
  while (mantissa >= 1) {
    mantissa /= 2;
    shift--;
  }
  const { multiplier, shift: extra } = quantizedMultiplier(mantissa);
  return { multiplier, shift: shift + extra };
}

/** Rows of float weights to `bits`-bit symmetric integers, one scale per row or one for all. */
export function quantizeRows(
  values: ArrayLike<number>,
  rows: number,
  rowLength: number,
  bits: number,
  perChannel: boolean,
): PackedWeights {
  const format = integerFormat(bits);
  const range = integerRange(format);
  const rowRange = (r0: number, r1: number) => {
    let min = 0, max = 0;
    for (let i = r0 * rowLength; i < r1 * rowLength; i++) {
      min = Math.min(min, values[i]);
      max = Math.max(max, values[i]);
    }
    return affineParamsFromRange(min, max, format).scale;
  };
  const whole = perChannel ? 0 : rowRange(0, rows);
  const scales = Float32Array.from({ length: rows }, (_, r) => perChannel ? rowRange(r, r + 1) : whole);
  const q = new Int32Array(rows * rowLength);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < rowLength; k++) {
      q[r * rowLength + k] = quantizeValue(values[r * rowLength + k], scales[r], 0, range);
    }
  }
  return { packed: packInt8Rows(q, rows, rowLength), scales, rows, rowLength, bits };
}

/** A row's sum of int8 weights (the padding lanes are 0). */
function rowSums(w: PackedWeights): Int32Array {
  const bytes = new Int8Array(w.packed.buffer), words = wordsFor(w.rowLength);
  return Int32Array.from({ length: w.rows }, (_, r) => {
    let sum = 0;
    for (let k = 0; k < w.rowLength; k++) sum += bytes[4 * r * words + k];
    return sum;
  });
}

/** The int32 bias at scale x_scale * w_scale (input zero point folded in) and each row's requantisation. */
function gemmParams(
  weights: PackedWeights,
  bias: ArrayLike<number>,
  input: QParams,
  output: QParams,
  relu: boolean,
): Int8GemmParams {
  const sums = rowSums(weights);
  const biasQ = new Int32Array(weights.rows), requant = new Uint32Array(2 * weights.rows);
  for (let o = 0; o < weights.rows; o++) {
    const accScale = Math.fround(input.scale * weights.scales[o]);
    biasQ[o] = roundHalfEven(bias[o] / accScale) - input.zeroPoint * sums[o];
    const { multiplier, shift } = requantization(accScale / output.scale);
    requant[2 * o] = multiplier;
    requant[2 * o + 1] = shift >>> 0;
  }
  return {
    weights,
    bias: biasQ,
    requant,
    outputZeroPoint: output.zeroPoint,
    outputScale: output.scale,
    relu,
  };
}

const activationQParams = (range: { min: number; max: number }): QParams => {
  const { scale, zeroPoint } = affineParamsFromRange(range.min, range.max, ACTIVATION_FORMAT);
  return { scale, zeroPoint };
};

/** f of each int8 input (at `input`'s scale) to int8 at `output`'s, in float64: the table of a function. */
function functionTable(f: (x: number) => number, input: QParams, output: QParams): Int32Array {
  const range = integerRange(ACTIVATION_FORMAT);
  return Int32Array.from(
    { length: 256 },
    (_, i) =>
      quantizeValue(f((i - 128 - input.zeroPoint) * input.scale), output.scale, output.zeroPoint, range),
  );
}

function weightOf(weights: FloatWeights, name: string): ArrayLike<number> {
  const value = weights.get(name);
  if (!value) throw new UserError(`the float weights have no ${name}`);
  return value;
}

/** Options of the integer conversions. */
export interface ConvertOptions {
  /** One weight scale per output channel (else one per tensor). */
  readonly perChannel?: boolean;
}

/**
 * Static int8: every activation int8 at the calibrated scales; weights int8 symmetric; ReLU fused into
 * the layer before it (its output range [0, max]); tanh by a 256-entry table onto PyTorch's fixed
 * tanh scale; max pooling on int8. The logits are dequantized at the end.
 */
export function convertStatic(
  spec: ModelSpec,
  weights: FloatWeights,
  calibration: Calibration,
  options: ConvertOptions = {},
): QuantizedModel {
  let q = activationQParams(calibration.input);
  const layers: Layer[] = [new QuantizeInput(q)];
  let { C, H, W } = spec.inputShape.length === 3
    ? { C: spec.inputShape[0], H: spec.inputShape[1], W: spec.inputShape[2] }
    : { C: spec.inputShape[0], H: 1, W: 1 };
  let bytes = 0;
  for (let i = 0; i < spec.layers.length; i++) {
    const layer = spec.layers[i], next = spec.layers[i + 1];
    if (layer instanceof Conv2d || layer instanceof Dense) {
      const relu = next instanceof ActivationLayer && next.activation === "relu";
      const observed = calibration.outputs[relu ? i + 1 : i];
      const out = activationQParams(relu ? { min: 0, max: observed.max } : observed);
      const w = weightOf(weights, `${layer.name}.weight`), b = weightOf(weights, `${layer.name}.bias`);
      let packed: PackedWeights;
      if (layer instanceof Conv2d) {
        const K = layer.kernelSize, IC = layer.inChannels, OC = layer.outChannels;
        // PyTorch's [OC, IC, K, K] to im2col's patch order [OC, K, K, IC].
        const rows = new Float32Array(OC * K * K * IC);
        for (let o = 0; o < OC; o++) {
          for (let c = 0; c < IC; c++) {
            for (let kk = 0; kk < K * K; kk++) rows[(o * K * K + kk) * IC + c] = w[(o * IC + c) * K * K + kk];
          }
        }
        packed = quantizeRows(rows, OC, K * K * IC, 8, options.perChannel ?? false);
        layers.push(new Int8Conv2d(layer.name, K, gemmParams(packed, b, q, out, relu)));
        ({ C, H, W } = { C: OC, H: H - K + 1, W: W - K + 1 });
      } else {
        // PyTorch flattens NCHW (c, h, w); the int8 activation is NHWC with channels padded to words.
        const OUT = layer.outFeatures, rowLength = H * W * 4 * wordsFor(C);
        const rows = new Float32Array(OUT * rowLength);
        for (let o = 0; o < OUT; o++) {
          for (let c = 0; c < C; c++) {
            for (let p = 0; p < H * W; p++) {
              rows[o * rowLength + p * 4 * wordsFor(C) + c] = w[o * C * H * W + c * H * W + p];
            }
          }
        }
        packed = quantizeRows(rows, OUT, rowLength, 8, options.perChannel ?? false);
        layers.push(new Int8Dense(layer.name, gemmParams(packed, b, q, out, relu)));
        ({ C, H, W } = { C: OUT, H: 1, W: 1 });
      }
      bytes += w.length + 4 * b.length + 4 * (options.perChannel ? packed.rows : 1);
      q = out;
      if (relu) i++;
    } else if (layer instanceof ActivationLayer) {
      const tanh = layer.activation === "tanh";
      const out = tanh ? TANH_QPARAMS : q;
      const f = tanh ? Math.tanh : (x: number) => Math.max(x, 0);
      layers.push(new Int8Lookup(layer.activation, functionTable(f, q, out)));
      q = out;
    } else if (layer instanceof MaxPool2d) {
      layers.push(new Int8MaxPool(layer.name));
      ({ H, W } = { H: Math.floor(H / 2), W: Math.floor(W / 2) });
    } else {
      throw new UserError(
        `int8 conversion does not handle ${layer.describe()}: use max pooling, dense and conv layers`,
      );
    }
  }
  layers.push(new DequantizeOutput(q));
  return {
    spec: { ...spec, name: `${spec.name}-int8`, layers },
    floatParameters: new Map(),
    parameterBytes: bytes,
  };
}

/**
 * Dynamic int8, as PyTorch's quantize_dynamic: dense layers only, their weights int8 and their inputs
 * quantized per batch from the batch's own range; everything else stays float.
 */
export function convertDynamic(
  spec: ModelSpec,
  weights: FloatWeights,
  options: ConvertOptions = {},
): QuantizedModel {
  const floatParameters = new Map<string, ArrayLike<number>>();
  let bytes = 0;
  const layers = spec.layers.map((layer): Layer => {
    if (!(layer instanceof Dense)) {
      for (const suffix of [".weight", ".bias"]) {
        const name = `${(layer as { name?: string }).name}${suffix}`;
        const value = weights.get(name);
        if (value) {
          floatParameters.set(name, value);
          bytes += 4 * value.length;
        }
      }
      return layer;
    }
    const w = weightOf(weights, `${layer.name}.weight`),
      b = Float32Array.from(weightOf(weights, `${layer.name}.bias`));
    const packed = quantizeRows(w, layer.outFeatures, layer.inFeatures, 8, options.perChannel ?? false);
    bytes += w.length + 4 * b.length + 4 * (options.perChannel ? packed.rows : 1);
    return new DynamicDense(layer.name, packed, rowSums(packed), b, layer.activation);
  });
  return {
    spec: { ...spec, name: `${spec.name}-dynamic-int8`, layers },
    floatParameters,
    parameterBytes: bytes,
  };
}

/** Weight-only: every dense and conv weight stored at `bits` bits (2 to 8), dequantized for the float kernels. */
export function convertWeightOnly(
  spec: ModelSpec,
  weights: FloatWeights,
  options: ConvertOptions & { bits: number },
): QuantizedModel {
  integerFormat(options.bits);
  const floatParameters = new Map<string, ArrayLike<number>>();
  let bytes = 0;
  const layers = spec.layers.map((layer): Layer => {
    if (!(layer instanceof Dense || layer instanceof Conv2d)) return layer;
    const w = weightOf(weights, `${layer.name}.weight`), b = weightOf(weights, `${layer.name}.bias`);
    const rows = layer instanceof Dense ? layer.outFeatures : layer.outChannels;
    const packed = quantizeRows(w, rows, w.length / rows, options.bits, options.perChannel ?? false);
    floatParameters.set(`${layer.name}.bias`, b);
    bytes += Math.ceil((w.length * options.bits) / 8) + 4 * b.length + 4 * (options.perChannel ? rows : 1);
    return new WeightOnly(layer, packed);
  });
  return {
    spec: { ...spec, name: `${spec.name}-weight-int${options.bits}`, layers },
    floatParameters,
    parameterBytes: bytes,
  };
}

/** The quantized model compiled for inference on a backend: evaluate and predict take it as any model. */
export function compileQuantized(backend: Backend, quantized: QuantizedModel, batch: number): CompiledModel {
  const model = new CompiledModel(backend, quantized.spec, batch, 0, { training: false });
  model.loadParameters(quantized.floatParameters);
  return model;
}
