/**
 * deno task profile MODEL [--batch-size 4] [--repeats 200] [--backend webgpu|cpu]: where the time
 * of one training step goes, kernel by kernel (GPU timestamps around each kernel run on its own),
 * and what recording them back to back in one pass costs beyond their sum (dispatch overhead).
 */
import { modelByName } from "../models/zoo.ts";
import { flagRanges, integerFlag, parseFlags, runMain } from "../io/command.ts";
import { profileTrainingStep } from "../lab/profile.ts";
import { PROTOCOL } from "../lab/protocol.ts";
import { adapterLine, backendKind } from "../lab/session.ts";
import { createDenoBackend } from "../io/webgpu.ts";
import { UserError } from "../engine/errors.ts";
import { describeChoices } from "../engine/tuner.ts";
import { compileModel, kernelMode } from "../io/tuning_cache.ts";

const FLAGS = {
  backend: { type: "string" },
  "batch-size": { type: "string" },
  repeats: { type: "string" },
  kernels: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<void> {
  const { values: flags, positionals } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(
      "usage: deno task profile MODEL [--backend webgpu|cpu] [--batch-size 4] [--repeats 200] [--kernels fixed|tuned]",
    );
    console.log(flagRanges(["batch-size", "repeats"]));
    return;
  }
  if (positionals.length !== 1) throw new UserError("name one model, e.g. deno task profile lenet5");
  const spec = modelByName(positionals[0]);
  const batch = integerFlag("batch-size", flags["batch-size"], 1) ?? PROTOCOL.batchSize;
  const repeats = integerFlag("repeats", flags.repeats, 1) ?? 200;
  const kind = backendKind(flags.backend);
  const kernels = kernelMode(flags.kernels, kind);
  const backend = await createDenoBackend(kind);
  console.log(adapterLine(backend));
  const model = await compileModel(backend, spec, batch, 0, kernels);
  const profile = await profileTrainingStep(model, repeats);
  console.log(
    `${spec.name}, batch ${batch}: one training step (forward, loss, backward with SGD), ${profile.dispatches} dispatches`,
  );
  console.log(`clock: ${profile.clock}; medians of ${repeats} runs`);
  console.log(
    `kernels: ${kernels}${
      kernels === "tuned" ? " (the variant each layer runs, and the tuner's timings)" : " (today's)"
    }`,
  );
  for (const line of describeChoices(model.kernelChoices)) console.log(`  ${line}`);
  for (const { entry, medianMs, constants } of profile.kernels) {
    console.log(`${entry.padEnd(32)} ${(medianMs * 1000).toFixed(1).padStart(9)} us  ${constants}`);
  }
  console.log(
    `sum of kernels ${(profile.sumMs * 1000).toFixed(0)} us; the whole step in one pass ${
      (profile.wholeMs * 1000).toFixed(0)
    } us`,
  );
  console.log(
    `dispatch overhead beyond the kernels: ${((profile.wholeMs - profile.sumMs) * 1000).toFixed(0)} us ` +
      `(${
        (((profile.wholeMs - profile.sumMs) / profile.dispatches) * 1000).toFixed(1)
      } us per dispatch; negative means kernels overlap)`,
  );
  backend.destroy();
}

if (import.meta.main) await runMain(main);
