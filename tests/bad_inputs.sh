#!/usr/bin/env bash
# Bad input, case by case: seqrec on every line of tests/bad_inputs/MANIFEST must exit with the
# status listed and say the expected words (naming the file and the row, HDF5 path or YAML
# line), with no crash, sanitizer report, HDF5 error stack or output left behind.
# Not for the good paths (import_*.sh, events_cli.sh); make_bad_h5 makes the HDF5 cases.
set -u
: "${SEQREC:?}" "${TEST_TMP:?}" "${MAKE_BAD_H5:?}"
HERE=$(cd "$(dirname "$0")/bad_inputs" && pwd)
[ -x "$SEQREC" ] || { echo "FAIL: no seqrec binary at $SEQREC"; exit 1; }
rm -rf "$TEST_TMP"
mkdir -p "$TEST_TMP/h5" "$TEST_TMP/gen" "$TEST_TMP/run"
cd "$TEST_TMP/run" || exit 1

"$MAKE_BAD_H5" "$TEST_TMP/h5" > make_bad_h5.txt 2>&1 || {
  echo "FAIL: make_bad_h5: $(cat make_bad_h5.txt)"
  exit 1
}
# Too big to commit: a line over the 1 MiB limit, a file with no newline at all, a config
# over its 1 MiB limit.
gen=$TEST_TMP/gen
{ printf '1 1\n2 '; head -c 1100000 /dev/zero | tr '\0' '7'; printf '\n3 3\n'; } \
  > "$gen/long_line.txt"
head -c 1100000 /dev/zero | tr '\0' 'x' > "$gen/no_newline.txt"
{ printf 'train:\n  lr: 0.1\n'; head -c 1100000 /dev/zero | tr '\0' '#'; } > "$gen/too_big.yaml"

# A config whose data.events is $1, small enough that a file that reads fine trains at once.
config_for() {
  local cfg="$TEST_TMP/run/cfg-$2.yaml"
  cat > "$cfg" <<EOF
data: {events: "$1", max_len: 8}
model: {d_model: 8, n_layers: 1, n_heads: 1, d_ff: 8}
train: {epochs: 1, batch_size: 4, max_steps: 1, checkpoint: "$TEST_TMP/run/ckpt-$2.h5"}
runtime: {device: cpu, threads: 1}
EOF
  echo "$cfg"
}

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; echo "${s%"${s##*[![:space:]]}"}"; }

n=0 fails=0
out="$TEST_TMP/run/out.h5"
while IFS= read -r line; do
  case "$line" in '' | '#'*) continue ;; esac
  IFS='|' read -r file code args want <<< "$line"
  file=$(trim "$file") code=$(trim "$code") args=$(trim "$args") want=$(trim "$want")
  case "$file" in
    @*) input="$TEST_TMP/h5/${file#@}" ;;
    %*) input="$TEST_TMP/gen/${file#%}" ;;
    .) input="$HERE" ;;
    *) input="$HERE/$file" ;;
  esac
  n=$((n + 1))
  rm -f "$out" "$out.tmp" "$out.ok"
  cfg=""
  argv=()
  read -ra words <<< "$args"
  for w in "${words[@]}"; do
    if [ "$w" = "{cfg}" ]; then
      [ -n "$cfg" ] || cfg=$(config_for "$input" "$n")
      w=$cfg
    fi
    w=${w//\{out\}/$out}
    argv+=("${w//\{\}/$input}")
  done
  want=${want//\{\}/$input}
  rc=0
  timeout 300 "$SEQREC" "${argv[@]}" > stdout.txt 2> stderr.txt || rc=$?
  where="$file: seqrec $args"
  problem=""
  if [ "$rc" != "$code" ]; then
    problem="exit $rc, expected $code"
  elif [ "$code" = 0 ] && ! grep -qF -- "$want" stdout.txt; then
    problem="stdout lacks '$want'"
  elif [ "$code" != 0 ] && ! grep -qF -- "$want" stderr.txt; then
    problem="stderr lacks '$want'"
  elif [ "$code" != 0 ] && ! grep -q '^seqrec: error: ' stderr.txt; then
    problem="no 'seqrec: error:' line"
  elif grep -qE 'HDF5-DIAG|Sanitizer|runtime error:|Segmentation|Process received signal' \
      stdout.txt stderr.txt; then
    problem="crash, sanitizer report or HDF5 error stack"
  elif [ "$code" != 0 ] && ls "$out" "$out.tmp" > /dev/null 2>&1; then
    problem="output left behind"
  fi
  if [ -n "$problem" ]; then
    fails=$((fails + 1))
    echo "FAIL: $where: $problem"
    sed 's/^/    /' stderr.txt | head -c 2000
  else
    echo "ok: $where"
  fi
done < "$HERE/MANIFEST"

echo "bad_inputs: $n cases, $fails failed"
[ "$n" -gt 80 ] || { echo "FAIL: only $n cases read from $HERE/MANIFEST"; exit 1; }
[ "$fails" -eq 0 ]
