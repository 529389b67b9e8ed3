#!/usr/bin/env bash
# The study to this machine's limit (issue 20), from a frozen worktree of main at bd431e5.
# Two chains side by side on the 2 cores; every sweep resumes where it stopped when run again.
cd /work/frozen
S=results/study; C="--save-dir $S/checkpoints --figures $S/figures-scratch"
chain1() {
  for m in mlp-200-70 mlp-270 mlp-400 lenet5; do
    deno task sweep --models $m --seeds 3,4 --out $S/seeds34.csv $C
  done
  for m in mlp-2058 mlp-4096; do deno task sweep --models $m --seeds 0 --out $S/big.csv $C; done
}
chain2() {
  deno task sweep --models mlp-1024 --seeds 1,2 --out $S/mlp1024.csv $C
  for m in mlp-1024-512 mlp-2048-1024; do deno task sweep --models $m --seeds 0 --out $S/big.csv $C; done
}
chain1 >> $S/chain1.log 2>&1 &
chain2 >> $S/chain2.log 2>&1 &
wait
