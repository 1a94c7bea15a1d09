#!/usr/bin/env bash
# The nightly job, the same on a laptop and in CI (.github/workflows/nightly.yml):
#   1. e2e        the scenario catalog on a kind cluster (`cargo test --test e2e`), JUnit
#                 and scenarios.json into OUT/e2e/;
#   2. run        the main job (`nfslab run --quick`): scenarios and the quick benchmark
#                 matrix, a run directory under OUT/results/ with report.md, report.html,
#                 junit.xml and bench/summary.json;
#   3. compare    that run's benchmark figures against the last stored baseline
#                 (`nfslab compare`), into OUT/compare.md, compare.html and compare.json;
#   4. candidate  the run's bench/ directory copied to OUT/baseline-candidate/ when the run
#                 passed, for the workflow to store as the next baseline.
# Every step runs even when an earlier one failed (so reports are always written); the exit
# status is the first non-zero step status, and a table of step -> status ends the output.
# Ctrl-C lets the running step clean up, skips the rest and exits 130.
#
# Usage: ci/nightly.sh [OUT]      (default: ci-out)
# Environment:
#   NFSLAB_BASELINE    baseline to compare against (a results directory with summary.json,
#                      or the file); default: results/baselines/nightly, else the newest
#                      directory under results/baselines/ holding a summary.json
#   NFSLAB_THRESHOLD   largest accepted regression, e.g. 5% (default: 10%)
#   CARGO_TARGET_DIR   cargo's target directory, as usual
# Needs: cargo, Docker and kind (ci/install-kind.sh) for steps 1 and 2; python3 for the
# JUnit summary (optional).
set -euo pipefail

out=${1:-ci-out}
threshold=${NFSLAB_THRESHOLD:-10%}
baseline_override=${NFSLAB_BASELINE:-}
# Paths given by the caller are relative to where it stands, not to the repository.
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -n "$baseline_override" ] && [[ "$baseline_override" != /* ]]; then
  baseline_override=$PWD/$baseline_override
fi
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

logs=$out/logs
# Outputs of an earlier run into the same directory must not pass for this run's (results/
# keeps earlier runs: each has its own run directory).
rm -rf "$out/e2e" "$out/baseline-candidate" "$logs" "$out/compare.md" "$out/compare.html" \
  "$out/compare.json" "$out/summary.md"
mkdir -p "$logs"

say() { printf '\n== nightly: %s\n' "$*" >&2; }
note() { printf 'nightly: %s\n' "$*" >&2; }

steps=()
statuses=()
first_failure=0
# record STEP CODE [DETAIL]: CODE 0 is ok, a number a failure, `skip` a skipped step.
record() {
  local step=$1 code=$2 detail=${3:-}
  local text
  case "$code" in
    0) text="ok" ;;
    skip) text="skipped" ;;
    *)
      text="FAILED (exit $code)"
      if [ "$first_failure" -eq 0 ]; then
        first_failure=$code
      fi
      ;;
  esac
  if [ -n "$detail" ]; then
    text="$text: $detail"
  fi
  steps+=("$step")
  statuses+=("$text")
}

# Ctrl-C reaches the running step too (same process group); it cleans up and exits, then
# the remaining steps are skipped. The tees ignore it (-i) so the step's last words are kept.
interrupted=0
trap 'interrupted=1' INT
stop_if_interrupted() { [ "$interrupted" -eq 1 ]; }

# --- 1. the scenario catalog as tests, on a kind cluster ---------------------------------
say "e2e: cargo test --release --test e2e on a kind cluster (JUnit into $out/e2e)"
e2e_status=0
NFSLAB_E2E_CLUSTER=kind NFSLAB_E2E_REPORT="$out/e2e" \
  cargo test --release --locked -p nfslab --test e2e 2>&1 | tee -i "$logs/e2e.log" >&2 || e2e_status=$?
if [ "$e2e_status" -eq 0 ]; then
  record e2e 0 "$out/e2e/junit.xml"
else
  record e2e "$e2e_status" "log: $logs/e2e.log"
fi

# --- 2. the main job ---------------------------------------------------------------------
run_dir=
run_status=skip
if stop_if_interrupted; then
  record run skip "interrupted"
else
  say "run: nfslab run --quick --results $out/results"
  run_status=0
  # stdout (the run directory) into run.stdout; stderr to the terminal and run.log.
  {
    cargo run --release --locked --quiet -p nfslab -- run --quick --results "$out/results" \
      2>&1 >&3 3>&- | tee -i "$logs/run.log" >&2
  } 3>"$logs/run.stdout" || run_status=$?
  # Contract: stdout is exactly one line, the run directory.
  mapfile -t printed <"$logs/run.stdout"
  if [ "${#printed[@]}" -eq 1 ] && [ -d "${printed[0]}" ]; then
    run_dir=${printed[0]}
    note "run directory: $run_dir"
  elif [ "$run_status" -eq 0 ]; then
    note "error: \`nfslab run\` exited 0 but its stdout is not one line naming an existing run directory (${#printed[@]} lines; see $logs/run.stdout)"
    run_status=1
  fi
  if [ "$run_status" -eq 0 ]; then
    record run 0 "$run_dir"
  else
    record run "$run_status" "${run_dir:-no run directory}; log: $logs/run.log"
  fi
fi

# --- 3. compare against the last baseline --------------------------------------------------
# The baseline to compare against, or nothing. Exits 2 when NFSLAB_BASELINE names
# something unusable (an explicit request must not be ignored).
find_baseline() {
  if [ -n "$baseline_override" ]; then
    if [ -f "$baseline_override" ] || [ -f "$baseline_override/summary.json" ]; then
      printf '%s' "$baseline_override"
      return 0
    fi
    note "error: NFSLAB_BASELINE=$baseline_override is neither a summary.json nor a directory holding one"
    return 2
  fi
  local nightly=$root/results/baselines/nightly
  if [ -f "$nightly/summary.json" ]; then
    printf '%s' "$nightly"
    return 0
  fi
  local dir newest=
  for dir in "$root"/results/baselines/*/; do
    dir=${dir%/}
    [ -f "$dir/summary.json" ] || continue
    if [ -z "$newest" ] || [ "$dir/summary.json" -nt "$newest/summary.json" ]; then
      newest=$dir
    fi
  done
  printf '%s' "$newest"
}

bench_dir=
if [ -n "$run_dir" ] && [ -f "$run_dir/bench/summary.json" ]; then
  bench_dir=$run_dir/bench
fi
if stop_if_interrupted; then
  record compare skip "interrupted"
elif [ -z "$bench_dir" ]; then
  if [ "$run_status" = 0 ]; then
    note "error: the run passed but wrote no ${run_dir:-<run dir>}/bench/summary.json"
    record compare 1 "the run wrote no bench/summary.json"
  else
    record compare skip "no benchmark results (the run failed)"
  fi
else
  baseline_status=0
  baseline=$(find_baseline) || baseline_status=$?
  if [ "$baseline_status" -ne 0 ]; then
    record compare "$baseline_status" "unusable NFSLAB_BASELINE"
  elif [ -z "$baseline" ]; then
    note "notice: no baseline to compare against (set NFSLAB_BASELINE, or store one in results/baselines/nightly); skipping the comparison. This run's figures become the candidate baseline."
    record compare skip "no baseline yet"
  else
    say "compare: $baseline -> $bench_dir (threshold $threshold)"
    compare_status=0
    # stdout (the Markdown comparison) into compare.md; stderr to the terminal and the log.
    {
      cargo run --release --locked --quiet -p nfslab -- compare "$baseline" "$bench_dir" \
        --threshold "$threshold" --html "$out/compare.html" --json "$out/compare.json" \
        2>&1 >&3 3>&- | tee -i "$logs/compare.log" >&2
    } 3>"$out/compare.md" || compare_status=$?
    cat "$out/compare.md" >&2
    if [ "$compare_status" -eq 0 ]; then
      record compare 0 "no regression beyond $threshold against $baseline"
    elif [ "$compare_status" -eq 1 ]; then
      record compare 1 "regression beyond $threshold against $baseline (see $out/compare.html)"
    else
      record compare "$compare_status" "log: $logs/compare.log"
    fi
  fi
fi

# --- 4. the candidate for the next baseline ----------------------------------------------
if [ "$run_status" = 0 ] && [ -n "$bench_dir" ]; then
  if cp -R "$bench_dir" "$out/baseline-candidate"; then
    record candidate 0 "$out/baseline-candidate"
  else
    record candidate 1 "could not copy $bench_dir"
  fi
else
  record candidate skip "only a passing run becomes a baseline"
fi

# --- summary -------------------------------------------------------------------------------
# junit_counts FILE: "N tests, F failed, E errors, S skipped", then the cases that did not
# pass as a Markdown list.
junit_counts() {
  python3 - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
total = failed = errors = skipped = 0
bad = []
for suite in suites:
    for case in suite.iter("testcase"):
        total += 1
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None:
            failed += 1
            bad.append(name)
        elif case.find("error") is not None:
            errors += 1
            bad.append(name)
        elif case.find("skipped") is not None:
            skipped += 1
print(f"{total} tests, {failed} failed, {errors} errors, {skipped} skipped")
if bad:
    print()
for name in bad:
    print(f"- not passed: `{name}`")
EOF
}

junit_files=("$out/e2e/junit.xml")
if [ -n "$run_dir" ]; then
  junit_files+=("$run_dir/junit.xml")
fi

{
  printf '## nfslab nightly\n\n| step | status |\n|---|---|\n'
  for i in "${!steps[@]}"; do
    printf '| %s | %s |\n' "${steps[$i]}" "${statuses[$i]}"
  done
  printf '\n'
  for file in "${junit_files[@]}"; do
    [ -f "$file" ] || continue
    if command -v python3 >/dev/null 2>&1; then
      printf '**%s**: ' "${file#"$out"/}"
      if ! junit_counts "$file"; then
        printf 'could not be parsed\n'
      fi
      printf '\n'
    fi
  done
  if [ -s "$out/compare.md" ]; then
    printf '### Benchmark comparison\n\n'
    cat "$out/compare.md"
  fi
} >"$out/summary.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$out/summary.md" >>"$GITHUB_STEP_SUMMARY"
fi

printf '\n== nightly: summary (outputs in %s)\n' "$out" >&2
printf '%-10s %s\n' "step" "status" >&2
for i in "${!steps[@]}"; do
  printf '%-10s %s\n' "${steps[$i]}" "${statuses[$i]}" >&2
done

if [ "$interrupted" -eq 1 ]; then
  note "interrupted"
  exit 130
fi
exit "$first_failure"
