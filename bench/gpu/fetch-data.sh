#!/usr/bin/env bash
# Packs MovieLens-1M (the SASRec file that configs/ml1m.yaml trains on) into .gpudata/ at the repo
# root, for a GPU session: ../shared/data stays behind when the working tree travels, and the
# text is 9 MB where xz makes it 1.9 MB (session.sh imports it there, in a fraction of a second).
# .gpudata/ is git-ignored: the MovieLens terms forbid redistribution, so it only ever goes to
# the lent machine, never into a commit. Usage: bench/gpu/fetch-data.sh [SHARED_DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${1:-${SEQREC_SHARED_DATA:-../shared/data}}/ml-1m/ml-1m.txt
[ -f "$src" ] || { echo "no $src" >&2; exit 1; }
mkdir -p .gpudata
xz -T1 -9 -c "$src" >.gpudata/ml-1m.txt.xz.tmp
mv .gpudata/ml-1m.txt.xz.tmp .gpudata/ml-1m.txt.xz
# session.sh checks the unpacked text against this before importing it
(cd "$(dirname "$src")" && sha256sum ml-1m.txt) >.gpudata/ml-1m.txt.sha256
echo "packed $src into .gpudata: $(du -sh .gpudata | cut -f1)"
