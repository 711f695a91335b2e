#!/usr/bin/env bash
# Installs what seqrec builds against on Debian 12 (run as root). The CUDA toolkit with NCCL
# is optional and not installed here: when nvcc is on PATH the CUDA code is built too.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  python3-minimal                     # tools/cudaemu's launch rewriter (conv.py)
  openmpi-bin libopenmpi-dev          # MPI ranks
  libhdf5-openmpi-dev hdf5-tools      # parallel HDF5 (and h5dump)
  libyaml-dev                         # configuration files
  libopenblas-dev                     # BLAS for the CPU path
  libcmocka-dev                       # unit tests
  time                                # /usr/bin/time -v for memory figures
  gnuplot-nox                         # PNG curves (seqrec report, seqrec sweep report)
  slurm-wlm                           # Slurm daemons and clients for the jobs test
  munge                               # Slurm's authentication (the jobs test starts its own)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "all build dependencies are installed"
fi
