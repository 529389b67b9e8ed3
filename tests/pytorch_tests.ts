/**
 * Whether the tests that compare with PyTorch run here. Where torch is missing they are skipped,
 * saying why, so that `deno task test` passes on a machine without it; where CI has installed it
 * (.ci/run sets REQUIRE_PYTORCH=1 after scripts/setup_bench.sh), a missing torch is a failure, so that
 * no PyTorch test is ever skipped there unnoticed.
 */
import { type PytorchAvailability, pytorchAvailable } from "../lab/peers/pytorch.ts";

export const PYTORCH_REQUIRED = Deno.env.get("REQUIRE_PYTORCH") === "1";

/** torch's availability for a test module; throws where REQUIRE_PYTORCH=1 and torch is missing. */
export async function pytorchForTests(): Promise<PytorchAvailability> {
  const torch = await pytorchAvailable();
  if (!torch.ok) {
    if (PYTORCH_REQUIRED) {
      throw new Error(`REQUIRE_PYTORCH=1 but ${torch.why}; install it with bash scripts/setup_bench.sh`);
    }
    console.warn(`PyTorch tests skipped: ${torch.why} (install it with bash scripts/setup_bench.sh)`);
  }
  return torch;
}
