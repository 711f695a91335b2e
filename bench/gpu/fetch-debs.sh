#!/usr/bin/env bash
# Downloads the Debian 12 packages that seqrec builds and runs against (Open MPI, parallel HDF5
# with h5dump, libyaml, cmocka, OpenBLAS, pkg-config) into .debs/ at the repository root, for a
# bare GPU machine that has no package registry (bench/gpu/unpack.sh unpacks them there).
# Run here, as root, on Debian 12 with working apt. Usage: bench/gpu/fetch-debs.sh [DIR]
#
# The set is the dependency closure of the roots below, walked by hand rather than by apt so that
# it stops at two lists: BASE, what any Ubuntu 24.04 image with a C toolchain (nvcc needs gcc)
# has, above all libc, which must never come from a prefix; and SKIP, what a C build against
# shared libraries never touches. Of alternatives ("a | b") the first is taken, as apt does.
# Libraries that the target turns out to have anyway are removed again at unpack time, so the
# walk may err on the side of shipping.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=${1:-.debs}

roots=(
  openmpi-bin libopenmpi-dev          # mpirun, mpicc (FindMPI interrogates it), libmpi
  libhdf5-openmpi-dev hdf5-tools      # parallel HDF5 (h5pcc, for FindHDF5), h5dump and h5diff
  libyaml-dev libcmocka-dev           # configuration files, unit tests
  libopenblas-dev                     # sgemm and cblas.h
  pkgconf                             # pkg_check_modules(yaml-0.1); the image may lack it
)
# Not libunistring2: Ubuntu 24.04 has libunistring.so.5 only, and Debian's libpsl5 needs .so.2.
BASE=(
  libc6 libc-bin libc6-dev libc-dev-bin linux-libc-dev libcrypt1 libcrypt-dev rpcsvc-proto
  libgcc-s1 libstdc++6 libgomp1 libatomic1 libquadmath0 gcc-12-base gcc cpp binutils make
  libgcc-12-dev libstdc++-12-dev libnsl-dev libnsl2 libtirpc-dev
  zlib1g libzstd1 liblzma5 libbz2-1.0 liblz4-1 libselinux1 libpcre2-8-0 libtinfo6 libgmp10
  libidn2-0 libgnutls30 libp11-kit0 libtasn1-6 libnettle8 libhogweed6 libffi8
  libudev1 libsystemd0 libcap2 libgcrypt20 libgpg-error0 libmd0 libacl1 libattr1 libaudit1
  libaudit-common libcap-ng0 libdb5.3 libpam0g libuuid1 libblkid1 libmount1
  debconf dpkg perl perl-base tar debianutils sensible-utils adduser passwd lsb-base
)
SKIP=(
  gfortran-12 gfortran libgfortran-12-dev                       # libopenmpi-dev's Fortran
  libhdf5-openmpi-fortran-102 libhdf5-openmpi-hl-fortran-100     # bindings seqrec never links
  libhdf5-openmpi-cpp-103-1 libhdf5-openmpi-hl-cpp-100
  libjpeg-dev libjpeg62-turbo-dev                               # a dev dependency seqrec never includes
  libjs-jquery libjs-jquery-ui                                  # Open MPI's HTML docs
  openssh-client                                                # one node: no remote launch
  libhwloc-plugins                                              # optional hwloc plugins (X11)
  libibverbs-dev libhwloc-dev libevent-dev libpmix-dev          # only for static Open MPI
)
declare -A stop=() ship=()
for p in "${BASE[@]}" "${SKIP[@]}"; do stop[$p]=1; done

# One line per dependency group: its alternatives, a virtual one replaced by its providers.
groups() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "$1" | awk '
      NR == 1 { next }
      /^    / { g = g " " $1; next }                   # a provider of the virtual just read
      /^ [ |][A-Za-z-]+: / {
        if (open == 0 && g != "") print g
        name = $2; gsub(/[<>]/, "", name); sub(/:any$/, "", name)
        if (open == 0) g = ""
        if ($2 !~ /^</) g = g " " name                 # a real package (virtual: providers follow)
        open = ($1 == "|Depends:" || $1 == "|PreDepends:")
        next }
      END { if (g != "") print g }'
}

queue=("${roots[@]}")
while ((${#queue[@]})); do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [ -z "${ship[$p]:-}" ] && [ -z "${stop[$p]:-}" ] || continue
  ship[$p]=1
  while read -r -a alts; do
    done_=0
    for a in "${alts[@]}"; do [ -n "${stop[$a]:-}${ship[$a]:-}" ] && done_=1 && break; done
    ((done_)) || queue+=("${alts[0]}")
  done < <(groups "$p")
done

mapfile -t pkgs < <(printf '%s\n' "${!ship[@]}" | grep -Ev -- '-(doc|docs)$' | sort)
rm -rf "$dest"
mkdir -p "$dest"
# apt-get download writes into the current folder; as root it warns that _apt cannot write there
(cd "$dest" && apt-get download -qq "${pkgs[@]}" 2>&1 | grep -v 'unsandboxed as root' || true)
printf '%s\n' "${pkgs[@]}" >"$dest/PACKAGES"
n=$(ls "$dest"/*.deb | wc -l)
[ "$n" = "${#pkgs[@]}" ] || { echo "fetched $n of ${#pkgs[@]} packages" >&2; exit 1; }

# Static libraries (OpenBLAS alone has 58 MB of them), docs and man pages are most of the bytes
# and seqrec links shared: repack without them (SLIM=0 keeps the archives as downloaded).
if [ "${SLIM:-1}" = 1 ]; then
  for deb in "$dest"/*.deb; do
    # worth a repack (xz is slow on a big library) only when it frees 200 kB or more
    dpkg-deb -c "$deb" | awk '$6 ~ /\.a$|^\.\/usr\/share\/(doc|man)\// {n += $3} END {exit n < 200000}' \
      || continue
    tree=$(mktemp -d)
    dpkg-deb -R "$deb" "$tree"
    find "$tree" -path "$tree/DEBIAN" -prune -o -name '*.a' -print0 | xargs -0r rm -f
    rm -rf "$tree/usr/share/doc" "$tree/usr/share/man"
    dpkg-deb -Zxz -b "$tree" "$deb" >/dev/null
    rm -rf "$tree"
  done
fi
echo "fetched $n packages into $dest: $(du -sh "$dest" | cut -f1)"
