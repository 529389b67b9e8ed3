/**
 * The registry: every kernel the engine dispatches, gathered from the families that declare them
 * beside their WGSL and twins (kernels/FAMILY/registry.ts). A new kernel is one entry in its
 * family's registry; its name joins `KernelName` by itself.
 *
 * A variant (another tiling, a split-K reduction) is one more entry with the same `op`: variants
 * of one op share their bindings and constants and compute the same values, summed in another
 * order. `variantsOf` lists them for the tuner (engine/tuner.ts); `defaultFor` is the one an op runs
 * untuned: the first listed that supports the shape and that its family prefers for it.
 */
import type { Constants } from "./backend.ts";
import { type Kernel, type KernelConstants, withDefaults } from "./kernel.ts";
import { type ActivationKernels, activationKernels } from "../kernels/activation/registry.ts";
import { type Conv2dKernels, conv2dKernels } from "../kernels/conv2d/registry.ts";
import { type DenseKernels, denseKernels } from "../kernels/dense/registry.ts";
import { type FixedPointKernels, fixedPointKernels } from "../kernels/fixed_point/registry.ts";
import { type GatherKernels, gatherKernels } from "../kernels/gather/registry.ts";
import { type HalfKernels, halfKernels } from "../kernels/half/registry.ts";
import { type LossKernels, lossKernels } from "../kernels/loss/registry.ts";
import { type PoolKernels, poolKernels } from "../kernels/pool/registry.ts";
import { type QuantizeKernels, quantizeKernels } from "../kernels/quantize/registry.ts";
import { type PruneKernels, pruneKernels } from "../kernels/prune/registry.ts";
import { type FakeQuantKernels, fakeQuantKernels } from "../kernels/fake_quant/registry.ts";

export { type Kernel, type KernelConstants, withDefaults } from "./kernel.ts";

/** Every family's entries, each typed with its own constants. */
export type Kernels =
  & GatherKernels
  & DenseKernels
  & Conv2dKernels
  & PoolKernels
  & ActivationKernels
  & LossKernels
  & QuantizeKernels
  & PruneKernels
  & FakeQuantKernels
  & FixedPointKernels
  & HalfKernels;

/** Every kernel's name: every compute entry point of every family's shaders (engine/webgpu/wgsl.generated.ts). */
export type KernelName = keyof Kernels;

/** Every kernel the engine dispatches, by entry point. */
export const kernels: Kernels = {
  ...gatherKernels,
  ...denseKernels,
  ...conv2dKernels,
  ...poolKernels,
  ...activationKernels,
  ...lossKernels,
  ...quantizeKernels,
  ...pruneKernels,
  ...fakeQuantKernels,
  ...fixedPointKernels,
  ...halfKernels,
};

/** Every registered kernel that computes `op` for these constants, the registry's order. */
export function variantsOf(op: string, constants: Constants): Kernel[] {
  return (Object.values(kernels) as Kernel[]).filter((k) =>
    k.op === op && (k.supports?.(withDefaults(k, constants)) ?? true)
  );
}

/**
 * The kernel `op` runs untuned at these constants: the first variant, in the registry's order, that
 * supports the shape and is preferred for it (each family states its preferences beside its entries).
 */
export function defaultFor(op: string, constants: Constants): Kernel {
  const chosen = variantsOf(op, constants).find((k) => k.preferred?.(withDefaults(k, constants)) ?? true);
  if (!chosen) throw new Error(`no kernel computes ${op} for ${JSON.stringify(constants)}`);
  return chosen;
}

/** The constants a caller passes to a kernel of this type. */
export type ConstantsOf<K> = K extends Kernel<infer Name, infer Optional> ? KernelConstants<Name, Optional>
  : never;
