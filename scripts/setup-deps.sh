#!/usr/bin/env bash
# Installs everything spectra needs to build, test and run on Debian 12 (bookworm).
# Needs root (or sudo). Safe to re-run.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
PKGS=(
  build-essential cmake pkg-config clang libomp-dev libclang-rt-14-dev  # compilers, OpenMP, libFuzzer/sanitizers
  libopenblas-openmp-dev liblapacke-dev                                 # CPU linear algebra
  libpcre2-dev                                                          # GPT-2 pre-tokenizer regex
  python3 python3-numpy python3-torch                                   # test oracles (NumPy, torch.optim)
  valgrind gnuplot-nox ca-certificates git
)
# Node.js + npm (npm pack for corpora/tokenizer files, the JS reference encoder). Many machines
# carry a vendor Node.js (e.g. nodesource's nodejs, which bundles npm and conflicts with Debian's
# npm package), so only fall back to Debian's packages when the commands are absent.
if ! command -v node >/dev/null 2>&1; then PKGS+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then
  if ! dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q nodesource; then PKGS+=(npm); fi
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup-deps: all Debian packages present"
fi
