#!/usr/bin/env bash
# Time and peak memory of `critlab graph` on one recorded run, for two builds side by side (e.g. before and
# after a change), each run `REPEATS` times in alternation; prints one JSON object with the medians and the
# ratios measured in this run.
#
#   scripts/bench_graph.sh RUN BASELINE_CRITLAB CRITLAB ["extra flags for CRITLAB"]
#
# Both get --no-pruning (the pruning test evaluates the test set, the same work in both); the report goes to
# a temporary directory for CRITLAB and to RUN/graph for a baseline without --out (it is removed after).
set -euo pipefail
run=${1:?usage: scripts/bench_graph.sh RUN BASELINE CRITLAB [flags]}
base=${2:?baseline critlab}
new=${3:?critlab}
flags=${4:-}
repeats=${REPEATS:-1}
tmp=$(mktemp -d)
# The baseline writes RUN/graph: an existing report is moved aside and put back whatever happens.
saved=""
if [ -e "$run/graph" ]; then
  saved="$tmp/graph.saved"
  mv "$run/graph" "$saved"
fi
restore() {
  rm -rf "$run/graph"
  [ -z "$saved" ] || mv "$saved" "$run/graph"
  rm -rf "$tmp"
}
trap restore EXIT
measure() {  # label, command...: prints "seconds kilobytes"
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$tmp/$label.time" "$@" >/dev/null 2>"$tmp/$label.err" ||
    { echo "bench_graph: $label failed: $(tail -1 "$tmp/$label.err")" >&2; exit 1; }
  cat "$tmp/$label.time"
}
b_s=() b_k=() n_s=() n_k=()
for i in $(seq "$repeats"); do
  read -r s k < <(measure base "$base" graph --run "$run" --no-pruning)
  b_s+=("$s") b_k+=("$k")
  # shellcheck disable=SC2086
  read -r s k < <(measure new "$new" graph --run "$run" --no-pruning --out "$tmp/report" $flags)
  n_s+=("$s") n_k+=("$k")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
bs=$(median "${b_s[@]}") bk=$(median "${b_k[@]}") ns=$(median "${n_s[@]}") nk=$(median "${n_k[@]}")
steps=$(ls -d "$run"/record/step-* | wc -l)
bytes=$(du -sb "$run/record" | cut -f1)
cat <<JSON
{"run": "$run", "recorded_steps": $steps, "recording_bytes": $bytes, "repeats": $repeats, "flags": "${flags//\"/\\\"}",
 "baseline": {"seconds": $bs, "peak_rss_mb": $(awk "BEGIN{print $bk/1024}")},
 "critlab": {"seconds": $ns, "peak_rss_mb": $(awk "BEGIN{print $nk/1024}")},
 "time_ratio": $(awk "BEGIN{print $ns/$bs}"), "memory_ratio": $(awk "BEGIN{print $nk/$bk}")}
JSON
