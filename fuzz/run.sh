#!/usr/bin/env bash
# Builds every fuzz target and runs each for N seconds (default 20): `fuzz/run.sh [seconds]`.
# Exits non-zero if a target crashes (panic, failed property, timeout, out of memory), after
# printing the reproducer's path and the command that replays it. See fuzz/README.md.
#
# Stable Rust: `--sanitizer none` is the one flag that matters (cargo-fuzz's default,
# AddressSanitizer, needs `-Zsanitizer`, which stable rustc refuses; everything else cargo-fuzz
# passes, sancov instrumentation included, is stable `-C`/`--cfg`).
set -euo pipefail

seconds="${1:-20}"
fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
cd "$fuzz_dir"
# This crate's own target directory, whatever the environment says for the workspace.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
flags=(--sanitizer none --target-dir "$fuzz_dir/target")

cargo_fuzz_version=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "run.sh: installing cargo-fuzz $cargo_fuzz_version" >&2
  cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
fi

cargo fuzz build "${flags[@]}"

failed=()
for target in $(cargo fuzz list); do
  # libFuzzer writes new inputs into the first corpus directory: a scratch one under target/,
  # so that the seeds in corpus/<target>/ (read only) stay as committed.
  scratch="$fuzz_dir/target/corpus/$target"
  log="$fuzz_dir/target/logs/$target.log"
  mkdir -p "$scratch" "$(dirname "$log")" "$fuzz_dir/artifacts/$target"
  echo "run.sh: $target for ${seconds}s" >&2
  if cargo fuzz run "${flags[@]}" "$target" "$scratch" "corpus/$target" -- -seed=1 \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$log" | tr '\n' ' ' >&2 || true
    echo >&2
  else
    failed+=("$target")
    echo "run.sh: $target FAILED (whole log: $log):" >&2
    # The panic message and the top of its backtrace, or libFuzzer's report (timeout, OOM).
    grep -m1 -A40 -E 'panicked at|ERROR: libFuzzer' "$log" >&2 || tail -n 40 "$log" >&2
    while read -r artifact; do
      echo "run.sh: reproducer: $artifact" >&2
      echo "run.sh: replay with: cd fuzz && cargo fuzz run --sanitizer none $target $artifact" >&2
    done < <(grep -oE 'Test unit written to [^ ]+' "$log" | awk '{print $5}')
  fi
done

if ((${#failed[@]})); then
  echo "run.sh: crashed: ${failed[*]}" >&2
  exit 1
fi
echo "run.sh: no crash in $(cargo fuzz list | wc -l) targets, ${seconds}s each" >&2
