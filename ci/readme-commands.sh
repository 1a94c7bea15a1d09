#!/usr/bin/env bash
# Runs the README's commands that need no cluster and no NFS server, as a new user would on a
# fresh clone: every fenced block that follows a line `<!-- readme-commands: ... -->` in
# README.md, one command line at a time, from the repository's root.
#
# Usage: ci/readme-commands.sh [NFSLAB_BINARY]
#
# `cargo run [--release] -p nfslab --` in a block is replaced by the nfslab binary given (by
# default target/debug/nfslab, which `cargo test --workspace` has built), so CI does not
# build nfslab a second time in another profile; everything after it runs as written.
#
# A command passes when it exits 0. `doctor` may also exit 3 (its documented "something
# required for a kind cluster is missing", which is the case on CI machines) as long as it
# printed its checks and the paths that need no kind cluster. Output documents (`-o json`)
# must parse. Exits 1 when a command fails, 2 when the README has no marked block.
set -euo pipefail

cd "$(dirname "$0")/.."
nfslab=${1:-target/debug/nfslab}
if [[ ! -x $nfslab ]]; then
  echo "error: nfslab binary \`$nfslab\` not found (hint: cargo build -p nfslab, or pass its path)" >&2
  exit 2
fi
nfslab=$(realpath "$nfslab")

work=$(mktemp -d /tmp/nfslab-readme.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The marked blocks' command lines, one per line (comments and blank lines dropped).
awk '
  /^<!-- readme-commands:/ { armed = 1; next }
  armed && /^```/ && !inside { inside = 1; next }
  inside && /^```/ { inside = 0; armed = 0; next }
  inside { print }
' README.md | sed -e 's/[[:space:]]#[^!].*$//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' >"$work/commands"

count=$(wc -l <"$work/commands")
if [[ $count -eq 0 ]]; then
  echo "error: README.md has no block marked \`<!-- readme-commands: ... -->\`" >&2
  exit 2
fi

failed=0
n=0
while IFS= read -r line; do
  n=$((n + 1))
  command=${line//cargo run --release -p nfslab --/$nfslab}
  command=${command//cargo run -p nfslab --/$nfslab}
  printf '\n[%d/%d] %s\n' "$n" "$count" "$line"
  set +e
  (bash -o pipefail -c "$command") >"$work/out" 2>"$work/err" </dev/null
  code=$?
  set -e
  ok=0
  if [[ $code -eq 0 ]]; then
    ok=1
  elif [[ $code -eq 3 && $command == "$nfslab doctor"* ]] &&
    grep -q 'Without a kind cluster:' "$work/out"; then
    ok=1
    echo "  exit 3: this machine lacks something a kind cluster needs (documented)"
  fi
  if [[ $ok -eq 1 && $command == *"-o json"* ]]; then
    if ! python3 -c 'import json,sys; json.load(sys.stdin)' <"$work/out"; then
      echo "  -o json printed something that is not one JSON document"
      ok=0
    fi
  fi
  if [[ $ok -eq 1 ]]; then
    echo "  ok (exit $code, $(wc -l <"$work/out") lines on stdout)"
  else
    failed=$((failed + 1))
    echo "  FAILED: exit $code"
    echo "  command: $command"
    echo "  --- stdout (last 20 lines)"
    tail -n 20 "$work/out" | sed 's/^/  /'
    echo "  --- stderr (last 20 lines)"
    tail -n 20 "$work/err" | sed 's/^/  /'
  fi
done <"$work/commands"

if [[ $failed -gt 0 ]]; then
  printf '\n%d of %d README commands failed\n' "$failed" "$count"
  exit 1
fi
printf '\nall %d README commands ran\n' "$count"
