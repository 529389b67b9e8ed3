#!/usr/bin/env bash
# What `deno task bench` needs beyond scripts/setup.sh, so that its peers run at their strongest:
# Debian's PyTorch (python3-torch) when no python3 imports torch, and OpenBLAS (libopenblas0-pthread),
# which update-alternatives then makes the libblas.so.3 that torch loads, instead of the reference BLAS.
# TF.js's wasm backend comes from npm when the bench first imports it. Safe to run again.
# CI (.ci/run) runs it too, so that the tests that compare with PyTorch run there; on a fresh machine
# here apt installed python3-torch and OpenBLAS (about 230 packages with their dependencies) in 1 min 47 s.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=()
python3 -c "import torch" 2>/dev/null || /usr/bin/python3 -c "import torch" 2>/dev/null ||
  apt_packages+=(python3-torch)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || apt_packages+=(libopenblas0-pthread)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "setup_bench: installing ${apt_packages[*]} with apt" >&2
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

# The BLAS torch will load: the alternative for libblas.so.3 must be OpenBLAS, not the reference BLAS.
arch_blas=$(ls /etc/alternatives/ | grep -m1 '^libblas.so.3' || true)
if [ -n "$arch_blas" ]; then
  chosen=$(readlink -f "/etc/alternatives/$arch_blas")
  case "$chosen" in
    *openblas*) echo "setup_bench: libblas.so.3 is OpenBLAS ($chosen)" >&2 ;;
    *)
      openblas=$(update-alternatives --list "$arch_blas" | grep -m1 openblas-pthread || true)
      if [ -n "$openblas" ]; then
        as_root update-alternatives --set "$arch_blas" "$openblas" >/dev/null
        echo "setup_bench: libblas.so.3 set to $openblas (was $chosen)" >&2
      else
        echo "setup_bench: warning: libblas.so.3 is $chosen, no OpenBLAS alternative found" >&2
      fi
      ;;
  esac
fi
# Fetch TF.js's wasm backend (imported inline by lab/peers/tfjs.ts) before anything is timed.
deno cache --quiet cli/bench.ts
