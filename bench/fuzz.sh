#!/usr/bin/env bash
# Runs every fuzz target (fuzz/*_fuzz.cc) under clang's libFuzzer with
# AddressSanitizer and UndefinedBehaviorSanitizer, MINUTES each (default 1),
# starting from its corpus (fuzz/corpus/<target>/), and prints, per target,
# the executions, execs/s, the corpus growth and the crashes found. A crash's
# input is kept in build-fuzz/crashes/<target>/ (add it to the corpus once
# fixed: the replay test then guards against it).
#   bench/fuzz.sh [MINUTES] [TARGET…]
# Needs clang and libclang-rt-14-dev (scripts/install-deps.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-1}; shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] ||
  targets=(qcow2_header chain record_log nbd_session api_body ini layer_form)
dir=${STRATA_FUZZ_BUILD_DIR:-build-fuzz}
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="$flags" -DSTRATA_LIBFUZZER=ON >/dev/null
cmake --build "$dir" -j "$(nproc)" --target \
  $(printf '%s_fuzz ' "${targets[@]}") 2>&1 | grep -E "error|warning: unused" || true
printf '%-14s %12s %10s %8s %8s\n' target execs execs/s corpus crashes
total_crashes=0
for t in "${targets[@]}"; do
  work=$dir/runs/$t; crashes=$dir/crashes/$t
  rm -rf "$work"; mkdir -p "$work/corpus" "$crashes"
  cp fuzz/corpus/"$t"/* "$work/corpus/"
  before=$(ls "$work/corpus" | wc -l)
  # -fork keeps going after a crash; one job: the machine has two cores.
  set +e
  (cd "$work" && ASAN_OPTIONS=detect_leaks=0 "../../fuzz/${t}_fuzz" \
     -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 \
     -print_final_stats=1 -artifact_prefix="../../crashes/$t/" \
     corpus >log 2>&1)
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  after=$(ls "$work/corpus" | wc -l)
  found=$(ls "$crashes" | wc -l)
  total_crashes=$((total_crashes + found))
  printf '%-14s %12s %10s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" \
    "$before→$after" "$found"
done
echo "crashes in all: $total_crashes (inputs in $dir/crashes/)"
