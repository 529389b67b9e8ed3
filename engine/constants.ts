/**
 * Constants that the shaders, their TypeScript twins and the layers share, stated once. Each WGSL
 * file that uses one repeats it as a `const` (WGSL has no import); tests/engine/tuner_test.ts checks
 * the two agree.
 */

/** The activation codes fused into dense and convolution kernels (their ACT constant). */
export const ACT = { identity: 0, relu: 1, tanh: 2 } as const;
/** An activation by name: "identity", "relu" or "tanh". */
export type ActivationName = keyof typeof ACT;

/** The dense kernels' register tile: 4 x 4 outputs per invocation (dense.wgsl). */
export const DENSE_TILE = 4;
/** dense_vec4.wgsl's long side: 16 x 4 outputs per invocation. */
export const DENSE_WIDE = 16;
/** Adjacent positions of a row per convolution invocation (conv2d.wgsl's TILE). */
export const CONV_TILE = 4;
/** Longest kernel side the convolutions support (conv2d.wgsl's MAX_K). */
export const MAX_K = 8;
/** Threads of a workgroup-reduction kernel (dense_reduce.wgsl's THREADS). */
export const REDUCE_THREADS = 64;
