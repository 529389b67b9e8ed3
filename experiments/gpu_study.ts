/** Work in progress: the study on a GPU server in one command. */
import { runMain } from "./cli.ts";

async function main(): Promise<void> {}

if (import.meta.main) await runMain(main);
