/**
 * The registry: every kernel the engine dispatches, gathered from the families that declare them
 * beside their WGSL and twins (kernels/FAMILY/registry.ts). A new kernel is one entry in its
 * family's registry; its name joins `KernelName` by itself.
 *
 * A variant (another tiling, a split-K reduction) is one more entry with the same `op`: variants
 * of one op share their bindings and constants and compute the same values, summed in another
 * order. `variantsOf` lists them for the tuner (engine/tuner.ts).
 */
import type { Constants } from "./backend.ts";
import { type Kernel, withDefaults } from "./kernel.ts";
import { type ActivationKernelName, activationKernels } from "../kernels/activation/registry.ts";
import { type Conv2dKernelName, conv2dKernels } from "../kernels/conv2d/registry.ts";
import { type DenseKernelName, denseKernels } from "../kernels/dense/registry.ts";
import { type GatherKernelName, gatherKernels } from "../kernels/gather/registry.ts";
import { type LossKernelName, lossKernels } from "../kernels/loss/registry.ts";
import { type PoolKernelName, poolKernels } from "../kernels/pool/registry.ts";

export { type Kernel, withDefaults } from "./kernel.ts";

/** Every kernel's name: every compute entry point of every family's shaders (engine/webgpu/wgsl.generated.ts). */
export type KernelName =
  | GatherKernelName
  | DenseKernelName
  | Conv2dKernelName
  | PoolKernelName
  | ActivationKernelName
  | LossKernelName;

/** Every kernel the engine dispatches, by entry point. */
export const kernels: Readonly<Record<KernelName, Kernel>> = {
  ...gatherKernels,
  ...denseKernels,
  ...conv2dKernels,
  ...poolKernels,
  ...activationKernels,
  ...lossKernels,
};

/** Every registered kernel that computes `op` for these constants, the registry's order. */
export function variantsOf(op: string, constants: Constants): Kernel[] {
  return Object.values(kernels).filter((k) =>
    k.op === op && (k.supports?.(withDefaults(k, constants)) ?? true)
  );
}
