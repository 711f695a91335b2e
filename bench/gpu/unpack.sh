#!/usr/bin/env bash
# Unpacks the packages of bench/gpu/fetch-debs.sh into PREFIX (never into /) and writes
# PREFIX/env.sh, which makes the build and the runs use them: `source PREFIX/env.sh`.
# Usage: bench/gpu/unpack.sh PREFIX [DEBS_DIR]     (default DEBS_DIR: .debs at the repo root)
#
# Unpacking as dpkg -x does (the package's data tar) runs no maintainer scripts, so this does
# by hand what they and the relocation need:
# the update-alternatives links (mpicc, mpirun, h5pcc, libopenblas, cblas.h), /usr paths in
# pkg-config files, h5pcc and PMIx's config rewritten to PREFIX, and Open MPI and PMIx told
# where they now live (OPAL_PREFIX, PMIX_PREFIX). A shipped library that the system already has
# (same soname, found by ldconfig) is deleted from PREFIX unless it belongs to the stack itself
# (MPI, PMIx, HDF5, yaml, cmocka, OpenBLAS): a Debian copy ahead of the system's on
# LD_LIBRARY_PATH would shadow it for every program of the session, nvcc and python included.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PREFIX [DEBS_DIR]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
debs=$(cd "${2:-$here/../../.debs}" && pwd)
mkdir -p "$1"
P=$(cd "$1" && pwd)
[ "$P" != / ] || { echo "refusing to unpack into /" >&2; exit 2; }
ma=x86_64-linux-gnu
L=$P/usr/lib/$ma              # a few Debian 12 packages still install into /lib: $P/lib/$ma
core='^(openmpi-|libopenmpi|libpmix|libhdf5-|hdf5-|libyaml|libcmocka|libopenblas|pkgconf|libpkgconf)'

# A .deb is an ar archive holding data.tar.*: without dpkg (not an Ubuntu image after all),
# ar from binutils and tar do the same.
if dpkg-deb --version >/dev/null 2>&1; then
  deb_name() { dpkg-deb -f "$1" Package; }
  deb_tar() { dpkg-deb --fsys-tarfile "$1"; }
else
  deb_name() { basename "$1" | cut -d_ -f1; }
  deb_tar() {
    local m
    m=$(ar t "$1" | grep '^data\.tar')
    case $m in *.xz) ar p "$1" "$m" | xz -dc ;; *.zst) ar p "$1" "$m" | zstd -dc ;;
      *.gz) ar p "$1" "$m" | gzip -dc ;; *) ar p "$1" "$m" ;; esac
  }
fi

shopt -s nullglob
mkdir -p "$P/.pkgs"
for deb in "$debs"/*.deb; do
  pkg=$(deb_name "$deb")
  # the package's files (tar -v names them), for pruning below
  deb_tar "$deb" | tar -xv -C "$P" | sed 's|^\./|/|' | grep -v '/$' >"$P/.pkgs/$pkg.list"
done

# ldconfig's path for a soname, when the system has it as a non-empty file outside PREFIX
system_lib() {
  local path
  path=$(ldconfig -p | awk -v n="$1" '$1 == n && $NF !~ "^'"$P"'" {print $NF; exit}')
  [ -n "$path" ] && [ -s "$path" ] && echo "$path"
}

pruned=()
for list in "$P"/.pkgs/*.list; do
  pkg=$(basename "$list" .list)
  [[ $pkg =~ $core ]] && continue
  mapfile -t sonames < <(grep -E '/lib[^/]*\.so\.[0-9]+$' "$list" | xargs -rn1 basename | sort -u)
  ((${#sonames[@]})) || continue
  all=1
  for s in "${sonames[@]}"; do system_lib "$s" >/dev/null || { all=0; break; }; done
  if ((all)); then
    sed "s|^|$P|" "$list" | xargs -rd '\n' rm -f
    pruned+=("$pkg")
  fi
done
((${#pruned[@]})) && echo "unpack: the system has these, using its copies: ${pruned[*]}"

# update-alternatives links that the maintainer scripts would have made
alt() { mkdir -p "$(dirname "$P/$1")"; ln -sfn "$2" "$P/$1"; }
for t in mpicc mpirun mpiexec mpicxx:mpic++ h5pcc; do alt "usr/bin/${t%%:*}" "${t##*:}.openmpi"; done
alt "usr/lib/$ma/libmpi.so" openmpi/lib/libmpi.so
for l in libopenblas.so.0 libopenblas.so libblas.so.3 libblas.so; do
  alt "usr/lib/$ma/$l" "openblas-pthread/$l"
done
alt "usr/include/$ma/cblas.h" openblas-pthread/cblas.h
alt "usr/lib/$ma/libpsm_infinipath.so.1" ../libpsm1/libpsm_infinipath.so.1.16
alt "usr/lib/$ma/pkgconfig/hdf5.pc" hdf5-openmpi.pc
alt "usr/lib/$ma/pkgconfig/mpi.pc" ompi.pc

# Development links left dangling (their library was not shipped, or pruned above): point
# them at the system's copy of that library, else drop them.
while IFS= read -r -d '' link; do
  name=$(basename "$link")
  stem=${name%%.so*}.so
  sys=$(ldconfig -p | awk -v s="$stem" 'index($1, s ".") == 1 && $NF !~ "^'"$P"'" {print $NF; exit}')
  if [ -n "$sys" ] && [ -s "$sys" ]; then ln -sfn "$sys" "$link"; else rm -f "$link"; fi
done < <(find "$P/usr/lib" "$P/lib" -xtype l -print0 2>/dev/null)

# Text files that name /usr: pkg-config files, h5pcc, PMIx's component path.
grep -rlIZ --include='*.pc' --include='*.conf' --include='h5*.openmpi' --include='*-wrapper-data.txt' \
  -e '/usr' "$P/usr" "$P/etc" 2>/dev/null \
  | xargs -0r sed -i -E "s#(^|[[:space:]=\"':]|-I|-L)/usr(/|\"|[[:space:]]|\$)#\1$P/usr\2#g"

# h5pcc offers the static libraries whenever the build had them; fetch-debs.sh drops them
[ -e "$L/hdf5/openmpi/libhdf5.a" ] || sed -i 's/^STATIC_AVAILABLE="yes"/STATIC_AVAILABLE="no"/' "$P"/usr/bin/h5*.openmpi

cat >"$P/env.sh" <<EOF
# written by bench/gpu/unpack.sh: the packages unpacked into $P
export PATH="$P/usr/bin\${PATH:+:\$PATH}"
export LD_LIBRARY_PATH="$L:$P/lib/$ma:$L/openmpi/lib:$L/openblas-pthread:$L/pmix2/lib:$P/usr/lib/libpsm1\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export CMAKE_PREFIX_PATH="$P/usr\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
export PKG_CONFIG_PATH="$L/pkgconfig:$P/usr/share/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
export HDF5_ROOT="$P/usr"
# MCA settings the image may carry for an MPI of its own would steer this one: drop them
for v in \$(compgen -e | grep -E '^(OMPI|PMIX)_MCA_'); do unset "\$v"; done
# Open MPI and PMIx find their components, help texts and MCA defaults through these
export OPAL_PREFIX="$P/usr" OPAL_SYSCONFDIR="$P/etc/openmpi"
export PMIX_PREFIX="$L/pmix2"
# one node, as root, maybe without ssh: nothing to launch remotely
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=false
EOF
echo "unpack: $(ls "$debs"/*.deb | wc -l) packages in $P; environment ($P/env.sh):"
cat "$P/env.sh"
