/**
 * Quantized layers: layers with other kernels (DESIGN.md principle 6). Each is built, like any layer,
 * into recorded dispatches, so a quantized model compiles into a CompiledModel and runs, is evaluated
 * and predicts on either backend as a float model does.
 *
 * int8 activations are NHWC, packed four channels to a u32 (kernels/quantize/quantize.wgsl): their
 * per-sample shape is [H, W, C], or [C] for features. Every scale and zero point is fixed at
 * conversion (models/quantized/convert.ts), except a dynamic layer's input's, computed per batch.
 */
import type { Dispatch, Tensor } from "../../engine/backend.ts";
import { ACT, type ActivationName } from "../../engine/constants.ts";
import { UserError } from "../../engine/errors.ts";
import { kernels } from "../../engine/kernels.ts";
import { inverseScale } from "../../engine/quantization.ts";
import { wordsFor } from "../../kernels/quantize/int8.ts";
import { int8Gemm } from "../../kernels/quantize/registry.ts";
import type { Conv2d } from "../layers/conv2d.ts";
import type { Dense } from "../layers/dense.ts";
import type { Activation, BuildContext, BuiltLayer, Layer } from "../layers/layer.ts";

/** A scale and zero point (an int8 activation's, per tensor). */
export interface QParams {
  /** Real value of one integer step. */
  readonly scale: number;
  /** The integer that stands for 0. */
  readonly zeroPoint: number;
}

/** A layer's weights as int8, packed by rows, with the scale of each row (symmetric: zero point 0). */
export interface PackedWeights {
  /** [rows, ceil(rowLength / 4)] words; a row's padding lanes hold 0. */
  readonly packed: Uint32Array;
  /** One scale per row (per output channel), or the same for every row (per tensor). */
  readonly scales: Float32Array;
  /** Output channels. */
  readonly rows: number;
  /** Values per row (inputs of an output channel). */
  readonly rowLength: number;
  /** Bits the values take (2 to 8): what the stored size counts. */
  readonly bits: number;
}

/** [C, H, W] (or [C]) as channels and positions. */
function channelsAndPositions(shape: readonly number[]): { C: number; H: number; W: number } {
  if (shape.length === 3) return { C: shape[0], H: shape[1], W: shape[2] };
  if (shape.length === 1) return { C: shape[0], H: 1, W: 1 };
  throw new UserError(
    `a quantized model takes inputs of shape [C, H, W] or [features], not ${shape.join("x")}`,
  );
}

/** [H, W, C] (or [C]) of an int8 activation. */
function nhwc(shape: readonly number[]): { C: number; H: number; W: number } {
  return shape.length === 3 ? { H: shape[0], W: shape[1], C: shape[2] } : { C: shape[0], H: 1, W: 1 };
}

const int8Tensor = (context: BuildContext, label: string, positions: number, channels: number) =>
  context.backend.tensor(label, "u32", [context.batch, positions, wordsFor(channels)]);

const qparamsTensor = (context: BuildContext, label: string, q: QParams) =>
  context.backend.tensor(label, "f32", [3], [q.scale, inverseScale(q.scale), q.zeroPoint]);

const built = (output: Activation, forward: Dispatch[]): BuiltLayer => ({
  output,
  forward,
  backward: [],
  parameters: [],
});

/** The float input, NCHW, to int8 NHWC at a fixed scale and zero point. */
export class QuantizeInput implements Layer {
  /** `qparams`: the input's scale and zero point, from calibration. */
  constructor(readonly qparams: QParams) {}

  describe(): string {
    return `quantize to int8 (scale ${
      this.qparams.scale.toPrecision(4)
    }, zero point ${this.qparams.zeroPoint})`;
  }

  build(context: BuildContext, input: Activation): BuiltLayer {
    const { C, H, W } = channelsAndPositions(input.shape);
    const q = int8Tensor(context, "quantize_input", H * W, C);
    const qparams = qparamsTensor(context, "quantize_input.qparams", this.qparams);
    const forward = [context.backend.dispatch(kernels.quantize_int8, { x: input.value, qparams, q }, {
      B: context.batch,
      C,
      HW: H * W,
    })];
    return built({ shape: input.shape.length === 3 ? [H, W, C] : [C], value: q }, forward);
  }
}

/** int8 NHWC back to float NCHW (the logits, for the loss and for predict). */
export class DequantizeOutput implements Layer {
  /** `qparams`: the last layer's output scale and zero point. */
  constructor(readonly qparams: QParams) {}

  describe(): string {
    return "dequantize to float32";
  }

  build(context: BuildContext, input: Activation): BuiltLayer {
    const { C, H, W } = nhwc(input.shape);
    const shape = input.shape.length === 3 ? [C, H, W] : [C];
    const y = context.backend.tensor("dequantize_output", "f32", [context.batch, ...shape]);
    const qparams = qparamsTensor(context, "dequantize_output.qparams", this.qparams);
    const forward = [context.backend.dispatch(kernels.dequantize_int8, { q_in: input.value, qparams, y }, {
      B: context.batch,
      C,
      HW: H * W,
    })];
    return built({ shape, value: y }, forward);
  }
}

/** What an int8 GEMM layer holds: packed weights, int32 bias (input zero point folded in), each row's requantisation. */
export interface Int8GemmParams {
  /** int8 weights, symmetric. */
  readonly weights: PackedWeights;
  /** int32 at scale x_scale * w_scale[o], minus x_zp * the row's weight sum. */
  readonly bias: Int32Array;
  /** [2 * rows]: each row's Q0.31 multiplier and shift (an i32's bits). */
  readonly requant: Uint32Array;
  /** The output's zero point. */
  readonly outputZeroPoint: number;
  /** The output's scale (the requantisation holds it; kept for peers and reports). */
  readonly outputScale: number;
  /** ReLU fused: clamp at the output's zero point. */
  readonly relu: boolean;
}

function gemmTensors(context: BuildContext, name: string, p: Int8GemmParams) {
  const { backend } = context;
  return {
    w: backend.tensor(`${name}.weight.int8`, "u32", [p.weights.packed.length], p.weights.packed),
    bias: backend.tensor(`${name}.bias.int32`, "u32", [p.bias.length], new Uint32Array(p.bias.buffer)),
    requant: backend.tensor(`${name}.requant`, "u32", [p.requant.length], p.requant),
  };
}

/** nn.quantized.Linear: int8 in, int8 out, int32 accumulation, ReLU fused when asked. */
export class Int8Dense implements Layer {
  /** `name` as the float layer's (fc1); `params` from convertStatic. */
  constructor(readonly name: string, readonly params: Int8GemmParams) {}

  describe(): string {
    return `${this.name}: int8 dense ${this.params.weights.rowLength}->${this.params.weights.rows}${
      this.params.relu ? " relu" : ""
    }`;
  }

  build(context: BuildContext, input: Activation): BuiltLayer {
    const { C, H, W } = nhwc(input.shape);
    const { rows, rowLength } = this.params.weights;
    if (H * W * 4 * wordsFor(C) !== 4 * wordsFor(rowLength)) {
      throw new UserError(`${this.name} expects ${rowLength} int8 inputs, gets ${input.shape.join("x")}`);
    }
    const y = int8Tensor(context, this.name, 1, rows);
    const forward = [context.backend.dispatch(int8Gemm(context.backend, "int8"), {
      x: input.value,
      ...gemmTensors(context, this.name, this.params),
      y,
    }, {
      B: context.batch,
      IN4: wordsFor(rowLength),
      OUT: rows,
      Y_ZP: this.params.outputZeroPoint,
      RELU: this.params.relu ? 1 : 0,
    })];
    return built({ shape: [rows], value: y }, forward);
  }
}

/** nn.quantized.Conv2d (stride 1, no padding): im2col_int8's patches through the int8 GEMM, NHWC out. */
export class Int8Conv2d implements Layer {
  /** `params.weights` rows are [OC, K, K, C], im2col's patch order. */
  constructor(readonly name: string, readonly kernelSize: number, readonly params: Int8GemmParams) {}

  describe(): string {
    const k = this.kernelSize, p = this.params;
    return `${this.name}: int8 conv ${k}x${k} ${p.weights.rowLength / (k * k)}->${p.weights.rows}${
      p.relu ? " relu" : ""
    }`;
  }

  build(context: BuildContext, input: Activation): BuiltLayer {
    const { backend, batch } = context;
    const { C, H, W } = nhwc(input.shape);
    const K = this.kernelSize, { rows: OC, rowLength } = this.params.weights;
    if (input.shape.length !== 3 || K * K * C !== rowLength || H < K || W < K) {
      throw new UserError(
        `${this.name} expects ${rowLength / (K * K)} channels of at least ${K}x${K}, gets ${
          input.shape.join("x")
        }`,
      );
    }
    const OH = H - K + 1, OW = W - K + 1;
    const patches = backend.tensor(`${this.name}.patches`, "u32", [batch * OH * OW, wordsFor(rowLength)]);
    const y = int8Tensor(context, this.name, OH * OW, OC);
    const forward = [
      backend.dispatch(kernels.im2col_int8, { x: input.value, patches }, { B: batch, H, W, C, K }),
      backend.dispatch(int8Gemm(backend, "int8"), {
        x: patches,
        ...gemmTensors(context, this.name, this.params),
        y,
      }, {
        B: batch * OH * OW,
        IN4: wordsFor(rowLength),
        OUT: OC,
        Y_ZP: this.params.outputZeroPoint,
        RELU: this.params.relu ? 1 : 0,
      }),
    ];
    return built({ shape: [OH, OW, OC], value: y }, forward);
  }
}

/** An int8 -> int8 function by its 256-entry table (tanh: see docs/compression.md). */
export class Int8Lookup implements Layer {
  /** `table[q + 128]`: the output for input q. */
  constructor(readonly what: string, readonly table: Int32Array) {}

  describe(): string {
    return `${this.what} by a 256-entry int8 table`;
  }

  build(context: BuildContext, input: Activation): BuiltLayer {
    const { C, H, W } = nhwc(input.shape);
    const words = context.batch * H * W * wordsFor(C);
    const table = context.backend.tensor(
      `${this.what}.table`,
      "u32",
      [256],
      new Uint32Array(this.table.buffer),
    );
    const y = int8Tensor(context, this.what, H * W, C);
    const forward = [
      context.backend.dispatch(kernels.lookup_int8, { x: input.value, table, y }, { N: words, C }),
    ];
    return built({ shape: input.shape, value: y }, forward);
  }
}

/** 2x2 max pooling on int8 (one scale in and out). */
export class Int8MaxPool implements Layer {
  /** `name` as the float layer's (pool1). */
  constructor(readonly name: string) {}

  describe(): string {
    return `${this.name}: int8 maxpool 2x2`;
  }

  build(context: BuildContext, input: Activation): BuiltLayer {
    const { C, H, W } = nhwc(input.shape);
    const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
    const y = int8Tensor(context, this.name, OH * OW, C);
    const forward = [
      context.backend.dispatch(kernels.maxpool2d_int8, { x: input.value, y }, { B: context.batch, H, W, C }),
    ];
    return built({ shape: [OH, OW, C], value: y }, forward);
  }
}

/**
 * nn.quantized.dynamic.Linear: float in and out; the input is quantized per batch from its own range
 * (int8_range_qparams), multiplied in int8 with int32 accumulation, dequantized with the bias and the
 * activation in float.
 */
export class DynamicDense implements Layer {
  /** The weights int8 (symmetric), the bias float, the activation fused in float. */
  constructor(
    readonly name: string,
    readonly weights: PackedWeights,
    /** Each row's sum of int8 weights: the input zero point's correction. */
    readonly weightSums: Int32Array,
    readonly bias: Float32Array,
    readonly activation: ActivationName = "identity",
  ) {}

  describe(): string {
    const act = this.activation === "identity" ? "" : ` ${this.activation}`;
    return `${this.name}: dynamic int8 dense ${this.weights.rowLength}->${this.weights.rows}${act}`;
  }

  fuse(activation: ActivationName): Layer | undefined {
    return this.activation === "identity"
      ? new DynamicDense(this.name, this.weights, this.weightSums, this.bias, activation)
      : undefined;
  }

  build(context: BuildContext, input: Activation): BuiltLayer {
    const { backend, batch: B } = context;
    const IN = this.weights.rowLength, OUT = this.weights.rows;
    if (input.shape.reduce((a, b) => a * b, 1) !== IN) {
      throw new UserError(`${this.name} expects ${IN} inputs, gets ${input.shape.join("x")}`);
    }
    const qparams = backend.tensor(`${this.name}.input_qparams`, "f32", [3]);
    const q = backend.tensor(`${this.name}.input.int8`, "u32", [B, wordsFor(IN)]);
    const y = backend.tensor(this.name, "f32", [B, OUT]);
    const forward: Dispatch[] = [
      backend.dispatch(kernels.int8_range_qparams, { x: input.value, range_qparams: qparams }, { N: B * IN }),
      backend.dispatch(kernels.quantize_int8, { x: input.value, qparams, q }, { B, C: IN, HW: 1 }),
      backend.dispatch(int8Gemm(backend, "float"), {
        x: q,
        w: backend.tensor(
          `${this.name}.weight.int8`,
          "u32",
          [this.weights.packed.length],
          this.weights.packed,
        ),
        x_qparams: qparams,
        w_scale: backend.tensor(`${this.name}.weight.scale`, "f32", [OUT], this.weights.scales),
        w_sums: backend.tensor(
          `${this.name}.weight.sums`,
          "u32",
          [OUT],
          new Uint32Array(this.weightSums.buffer),
        ),
        b: backend.tensor(`${this.name}.bias`, "f32", [OUT], this.bias),
        y_float: y,
      }, { B, IN4: wordsFor(IN), OUT, ACT: ACT[this.activation] }),
    ];
    return built({ shape: [OUT], value: y }, forward);
  }
}

/**
 * Weight-only quantization: a float Dense or Conv2d whose weights are stored as 2- to 8-bit integers
 * (in int8 lanes) and dequantized to float32 by dequantize_weights before its float kernel runs, at
 * each forward pass. Its bias stays a float parameter.
 */
export class WeightOnly implements Layer {
  /** `inner`: the float layer; `weights`: its weights as rows of b-bit integers. */
  constructor(readonly inner: Dense | Conv2d, readonly weights: PackedWeights) {}

  describe(): string {
    return `${this.inner.describe()} (weights int${this.weights.bits}, dequantized per pass)`;
  }

  fuse(activation: ActivationName): Layer | undefined {
    const fused = this.inner.fuse(activation);
    return fused ? new WeightOnly(fused as Dense | Conv2d, this.weights) : undefined;
  }

  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer {
    const layer = this.inner.build(context, input, needsInputGrad);
    const weight = layer.parameters.find((p) => p.name.endsWith(".weight"))!;
    const { backend } = context;
    const packed: Tensor = backend.tensor(`${weight.name}.int${this.weights.bits}`, "u32", [
      this.weights.packed.length,
    ], this.weights.packed);
    const scales = backend.tensor(`${weight.name}.scales`, "f32", [this.weights.rows], this.weights.scales);
    const dequantize = backend.dispatch(kernels.dequantize_weights, {
      q_in: packed,
      scales,
      w_float: weight.value,
    }, {
      B: this.weights.rows,
      C: this.weights.rowLength,
    });
    return {
      ...layer,
      forward: [dequantize, ...layer.forward],
      parameters: layer.parameters.filter((p) => p !== weight),
    };
  }
}
