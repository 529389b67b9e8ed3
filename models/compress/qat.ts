/**
 * Quantization-aware training as PyTorch's eager-mode QAT does it (torch.ao.quantization.prepare_qat
 * with FakeQuantize modules): every Dense and Conv2d layer reads its weight through a fake
 * quantization and fake-quantises its output (after its fused activation); the first layer
 * fake-quantises the model's input too (QuantStub). Pooling passes values through unchanged, as a
 * quantized max or average pool keeps its input's scale.
 *
 * On the device, a fake-quantised weight keeps its float weights apart: before the forward,
 * `fake_quant_forward` writes fake_quant(float weights) into the tensor the layer's kernels read; the
 * layer's fused SGD step then computes the gradient with respect to that copy (and moves the copy,
 * which the next step overwrites); `fake_quant_sgd` takes the SGD step on the float weights with
 * the straight-through estimator (the gradient where the weight was not clipped, 0 where it was).
 * The model's parameters are the float weights, so its checkpoint is a float checkpoint.
 *
 * Observers update while training and stop for tests (`setObserving`), so a test never moves a scale.
 */
import type { Backend, Dispatch, Tensor } from "../../engine/backend.ts";
import { UserError } from "../../engine/errors.ts";
import { kernels } from "../../engine/kernels.ts";
import { formatName, type IntegerFormat, integerFormat, integerRange } from "../../engine/quantization.ts";
import type { TuningCache } from "../../engine/tuner.ts";
import type { KernelMode } from "../../engine/tuner.ts";
import type { DeviceDataSet } from "../dataset.ts";
import { evaluate, type PassResult } from "../epoch.ts";
import { Conv2d } from "../layers/conv2d.ts";
import { Dense } from "../layers/dense.ts";
import {
  type Activation,
  activationTensors,
  type BuildContext,
  type BuiltLayer,
  type Layer,
  type Parameter,
} from "../layers/layer.ts";
import { CompiledModel, fuseActivations, type ModelSpec } from "../model.ts";
import type { EpochResult, TrainingPlan } from "../trainer.ts";
import { type EpochTrainingOptions, trainEachEpoch } from "./epochs.ts";

/** How an observer turns what it sees into a range. */
export type FakeQuantObserver =
  /** Each batch's min and max, averaged: range += c (batch - range) (MovingAverageMinMaxObserver, PyTorch's QAT default). */
  | "moving-average"
  /** The extremes of everything seen (MinMaxObserver). */
  | "min-max";

/** Where fake quantization sits and in which formats. */
export interface FakeQuantOptions {
  /** Weights' format (int2 to int8): signed and symmetric, as PyTorch's qint8, unless given. */
  readonly weightFormat?: IntegerFormat;
  /** One scale per output channel for weights (PyTorch's per_channel_symmetric, axis 0). */
  readonly perChannel?: boolean;
  /** Activations' format: uint8 with a zero point (PyTorch's quint8 per_tensor_affine), unless given. */
  readonly activationFormat?: IntegerFormat;
  /** One scale per channel for activations too (axis 1): a finer grid than PyTorch's converted models use. */
  readonly activationPerChannel?: boolean;
  /** "moving-average" (PyTorch's QAT default) unless given. */
  readonly observer?: FakeQuantObserver;
  /** The moving average's constant c, 0.01 as PyTorch's. */
  readonly averagingConstant?: number;
}

/** One fake-quantization point's parameters: what a converter needs to quantize there. */
export interface QuantPointParams {
  /** As parseQuantFormat reads it: "int8", "uint8", "int4". */
  readonly format: string;
  /** Zero points are 0 (signed) or the middle of the range (unsigned). */
  readonly symmetric: boolean;
  /** null: per tensor; 0: per output channel of a weight [out, ...]; 1: per channel of an activation [batch, channels, ...]. */
  readonly axis: 0 | 1 | null;
  /** One per channel (one in all per tensor): real value of one step. */
  readonly scales: number[];
  /** One per channel: the integer that stands for 0. */
  readonly zeroPoints: number[];
  /** The observer's range, one per channel. */
  readonly min: number[];
  /** The observer's upper end, one per channel. */
  readonly max: number[];
}

/** A layer's fake-quantization points. */
export interface QatLayerParams {
  /** Its weight. */
  readonly weight: QuantPointParams;
  /** Its output, after its fused activation: the next layer's input. */
  readonly activation: QuantPointParams;
  /** The model's input, on the first layer only. */
  readonly input?: QuantPointParams;
}

/**
 * What quantization-aware training hands a converter besides the float weights (the model's
 * checkpoint): layer name (as in the state_dict, "conv1", "fc3") -> its points' scales and zero
 * points. Plain data: JSON.stringify stores it (see `qatMetadata`).
 */
export interface QatParams {
  /** The model's name, "lenet5". */
  readonly model: string;
  /** How the ranges were observed. */
  readonly observer: FakeQuantObserver;
  /** Layers in model order. */
  readonly layers: Record<string, QatLayerParams>;
}

interface ResolvedOptions {
  readonly weightFormat: IntegerFormat;
  readonly perChannel: boolean;
  readonly activationFormat: IntegerFormat;
  readonly activationPerChannel: boolean;
  readonly observer: FakeQuantObserver;
  readonly averagingConstant: number;
}

/** A fake-quantization point on the device: its observer state, its shape as a kernel sees it. */
interface FakeQuantPoint {
  readonly layer: string;
  readonly role: "weight" | "activation" | "input";
  readonly format: IntegerFormat;
  readonly axis: 0 | 1 | null;
  /** [min, max, scale, zero_point] per channel. */
  readonly observer: Tensor;
  readonly channels: number;
}

/** What the wrapped layers of one QatModel share: the observing flag, the options, the points made. */
interface QatSetup {
  readonly observing: Tensor;
  readonly options: ResolvedOptions;
  readonly points: FakeQuantPoint[];
}

/** An observer that has seen nothing: min > max, PyTorch's initial scale 1 and zero point 0. */
const UNOBSERVED = [1, -1, 1, 0];

/**
 * A point fake-quantising `x` into `y`: its observer and forward dispatches and its mask. `shape` is
 * the full tensor's; `axis` the channel axis or null.
 */
function fakeQuantPoint(
  backend: Backend,
  setup: QatSetup,
  where: { layer: string; role: FakeQuantPoint["role"] },
  x: Tensor,
  y: Tensor,
  shape: readonly number[],
  axis: 0 | 1 | null,
  format: IntegerFormat,
): { observe: Dispatch; forward: Dispatch; mask: Tensor } {
  const channels = axis === null ? 1 : shape[axis];
  const inner = axis === null ? 1 : shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const label = `${where.layer}.${where.role}.fake_quant`;
  const state = new Float32Array(4 * channels);
  for (let c = 0; c < channels; c++) state.set(UNOBSERVED, 4 * c);
  const observer = backend.tensor(`${label}.observer`, "f32", [channels, 4], state);
  const mask = backend.tensor(`${label}.mask`, "u32", [x.length]);
  const range = integerRange(format);
  const { options } = setup;
  const constants = {
    N: x.length,
    CHANNELS: channels,
    INNER: inner,
    QMIN: range.min,
    QMAX: range.max,
    SYMMETRIC: format.symmetric ? 1 : 0,
    OBSERVER: options.observer === "moving-average" ? 0 : 1,
    AVERAGING: options.averagingConstant,
  };
  setup.points.push({ ...where, format, axis, observer, channels });
  return {
    observe: backend.dispatch(
      kernels.fake_quant_observe,
      { x, observer, observing: setup.observing },
      constants,
    ),
    forward: backend.dispatch(kernels.fake_quant_forward, { x, observer, y, mask }, constants),
    mask,
  };
}

/** A Dense or Conv2d layer with its weight, its output and (first layer) its input fake-quantised. */
class FakeQuantized implements Layer {
  constructor(
    readonly inner: Dense | Conv2d,
    readonly setup: QatSetup,
    readonly quantizeInput: boolean,
  ) {}

  describe(): string {
    const { weightFormat, activationFormat, perChannel } = this.setup.options;
    return `${this.inner.describe()} [fake-quantised: weight ${formatName(weightFormat)}${
      perChannel ? " per channel" : ""
    }, output ${formatName(activationFormat)}${this.quantizeInput ? ", input too" : ""}]`;
  }

  build(context: BuildContext, input: Activation, needsInputGrad: boolean): BuiltLayer {
    const { backend, batch } = context;
    const { setup, inner } = this;
    const { options } = setup;
    const layer = inner.name;
    const activationAxis = options.activationPerChannel ? 1 : null;
    const forward: Dispatch[] = [], backward: Dispatch[] = [];
    let x = input;
    if (this.quantizeInput) {
      // The model's input needs no gradient, so its fake-quantised copy has none.
      if (needsInputGrad) throw new Error(`${layer}: only the first layer fake-quantises the model's input`);
      const value = backend.tensor(`${layer}.input.fake_quant`, "f32", [batch, ...input.shape]);
      const point = fakeQuantPoint(
        backend,
        setup,
        { layer, role: "input" },
        input.value,
        value,
        [batch, ...input.shape],
        activationAxis,
        options.activationFormat,
      );
      forward.push(point.observe, point.forward);
      x = { shape: input.shape, value };
    }
    const built = inner.build(context, x, needsInputGrad);
    const weight = built.parameters.find((p) => p.name.endsWith(".weight"))!;
    // The float weights start as the layer's initial weights (a checkpoint then overwrites them).
    const float = backend.tensor(`${weight.name}.float`, "f32", weight.shape);
    backend.run([
      backend.dispatch(kernels.fake_quant_copy, { x: weight.value, y: float }, { N: float.length }),
    ]);
    const weightPoint = fakeQuantPoint(
      backend,
      setup,
      { layer, role: "weight" },
      float,
      weight.value,
      weight.shape,
      options.perChannel ? 0 : null,
      options.weightFormat,
    );
    forward.push(weightPoint.observe, weightPoint.forward, ...built.forward);
    const output = activationTensors(context, `${layer}.fake_quant`, built.output.shape);
    const outputShape = [batch, ...built.output.shape];
    const outputPoint = fakeQuantPoint(
      backend,
      setup,
      { layer, role: "activation" },
      built.output.value,
      output.value,
      outputShape,
      activationAxis,
      options.activationFormat,
    );
    forward.push(outputPoint.observe, outputPoint.forward);
    if (context.training) {
      const N = output.value.length;
      backward.push(
        backend.dispatch(
          kernels.fake_quant_backward,
          { dy: output.grad!, mask: outputPoint.mask, dx: built.output.grad! },
          { N },
        ),
        ...built.backward,
        backend.dispatch(kernels.fake_quant_sgd, {
          w_train: float,
          grad_w: weight.grad!,
          mask: weightPoint.mask,
          learning_rate: context.learningRate,
        }, { N: float.length }),
      );
    }
    const parameters: Parameter[] = built.parameters.map((p) => p === weight ? { ...p, value: float } : p);
    return { output, forward, backward, parameters };
  }
}

function resolve(options: FakeQuantOptions): ResolvedOptions {
  const averagingConstant = options.averagingConstant ?? 0.01;
  if (!(averagingConstant > 0 && averagingConstant <= 1)) {
    throw new UserError(`an observer's averaging constant lies in (0, 1], not ${averagingConstant}`);
  }
  return {
    weightFormat: options.weightFormat ?? integerFormat(8, true, true),
    perChannel: options.perChannel ?? false,
    activationFormat: options.activationFormat ?? integerFormat(8, false, false),
    activationPerChannel: options.activationPerChannel ?? false,
    observer: options.observer ?? "moving-average",
    averagingConstant,
  };
}

/**
 * A model compiled with fake quantization in the loop. `model` trains and evaluates as any compiled
 * model (its parameters are the float weights); `setObserving` starts and stops the observers;
 * `quantParams` reads every point's scale and zero point back.
 */
export class QatModel {
  /** The compiled model: the spec's layers, Dense and Conv2d ones fake-quantised. */
  readonly model: CompiledModel;
  readonly #setup: QatSetup;

  /** Compiles `spec` with fake quantization for `backend` and `batch`, initialised from `seed` as CompiledModel is. */
  constructor(
    readonly backend: Backend,
    readonly spec: ModelSpec,
    batch: number,
    seed: number,
    fakeQuant: FakeQuantOptions = {},
    options: { training?: boolean; kernels?: KernelMode; tuningCache?: TuningCache } = {},
  ) {
    const observing = backend.tensor("fake_quant.observing", "f32", [1], [1]);
    this.#setup = { observing, options: resolve(fakeQuant), points: [] };
    const layers = fuseActivations(spec.layers).map((layer, i) =>
      layer instanceof Dense || layer instanceof Conv2d
        ? new FakeQuantized(layer, this.#setup, i === 0)
        : layer
    );
    if (!layers.some((layer) => layer instanceof FakeQuantized)) {
      throw new UserError(`${spec.name} has no dense or convolution layer to fake-quantise`);
    }
    this.model = new CompiledModel(backend, { ...spec, layers }, batch, seed, options);
  }

  /** Observers update on each forward (training) or keep their ranges (tests, inference). */
  setObserving(on: boolean): void {
    this.backend.write(this.#setup.observing, [on ? 1 : 0]);
  }

  /** Every point's scale(s), zero point(s) and range as the observers hold them now. */
  async quantParams(): Promise<QatParams> {
    const layers: Record<string, Partial<Record<FakeQuantPoint["role"], QuantPointParams>>> = {};
    for (const point of this.#setup.points) {
      const state = await this.backend.read(point.observer);
      const column = (k: number) => Array.from({ length: point.channels }, (_, c) => state[4 * c + k]);
      (layers[point.layer] ??= {})[point.role] = {
        format: formatName(point.format),
        symmetric: point.format.symmetric,
        axis: point.axis,
        min: column(0),
        max: column(1),
        scales: column(2),
        zeroPoints: column(3),
      };
    }
    return {
      model: this.spec.name,
      observer: this.#setup.options.observer,
      layers: layers as Record<string, QatLayerParams>,
    };
  }
}

/**
 * Runs `data` through the model once with the observers on, so that the scales start from real
 * ranges rather than PyTorch's initial scale 1 (how a float model's fake-quantised accuracy is
 * measured before any QAT step); the observers are off afterwards.
 */
export async function calibrateFakeQuant(qat: QatModel, data: DeviceDataSet): Promise<PassResult> {
  qat.setObserving(true);
  try {
    return await evaluate(qat.model, data);
  } finally {
    qat.setObserving(false);
  }
}

/** What quantization-aware training gives back. */
export interface QatRun {
  /** One entry per epoch, each tested with the observers stopped. */
  readonly history: EpochResult[];
  /** The fake-quantised model's test accuracy at the end (NaN without epochs). */
  readonly testAccuracy: number;
  /** Every fake-quantization point's scale and zero point at the end, for a converter. */
  readonly params: QatParams;
}

/**
 * Trains the fake-quantised model `plan.epochs` epochs with the lab's SGD, observers on while it
 * trains and off for each test. Load the float checkpoint into `qat.model` first. A diverging loss
 * throws DivergedError, as trainModel does.
 */
export async function trainQat(
  qat: QatModel,
  sets: { readonly train: DeviceDataSet; readonly test: DeviceDataSet },
  plan: TrainingPlan,
  training?: EpochTrainingOptions,
): Promise<QatRun> {
  const history = await trainEachEpoch(qat.model, sets, plan, {
    training,
    beforeEpoch: () => qat.setObserving(true),
    beforeTest: () => qat.setObserving(false),
  });
  qat.setObserving(false);
  return { history, testAccuracy: history.at(-1)?.testAccuracy ?? NaN, params: await qat.quantParams() };
}

/** The parameters as checkpoint metadata (safetensors' header holds strings): encodeCheckpoint(qat.model, qatMetadata(params)). */
export function qatMetadata(params: QatParams): Record<string, string> {
  return { qat: JSON.stringify(params) };
}
