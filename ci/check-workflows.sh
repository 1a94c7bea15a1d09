#!/usr/bin/env bash
# Checks the GitHub workflows without running them: every .github/workflows/*.yml parses as
# YAML and has jobs with steps, every action is pinned to a version (`uses: x@v4`), and every
# repository script a `run:` step calls (ci/..., .ci/...) exists and is executable.
#
# Usage: ci/check-workflows.sh [WORKFLOW...]   (default: .github/workflows/*.yml)
# Needs: python3 with PyYAML (pulled in by `pip install kubernetes-validate`).
set -euo pipefail

cd "$(dirname "$0")/.."

files=("$@")
if [ "${#files[@]}" -eq 0 ]; then
  shopt -s nullglob
  files=(.github/workflows/*.yml .github/workflows/*.yaml)
  shopt -u nullglob
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "check-workflows: no workflow files under .github/workflows" >&2
  exit 1
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "check-workflows: python3 cannot import yaml (hint: python3 -m pip install pyyaml)" >&2
  exit 1
fi

python3 - "${files[@]}" <<'PY'
import os
import re
import sys

import yaml

# A repository script named in a shell command: ci/x.sh, ./ci/x.sh, .ci/run.
SCRIPT = re.compile(r"(?<![\w./-])(?:\./)?(\.?ci/[\w.-]+(?:/[\w.-]+)*)")
problems = []
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        problems.append(f"{path}: not valid YAML: {e}")
        continue
    jobs = doc.get("jobs") if isinstance(doc, dict) else None
    if not isinstance(jobs, dict) or not jobs:
        problems.append(f"{path}: no `jobs` mapping")
        continue
    scripts = 0
    before = len(problems)
    for job_name, job in jobs.items():
        steps = job.get("steps") if isinstance(job, dict) else None
        if not isinstance(steps, list) or not steps:
            problems.append(f"{path}: job `{job_name}` has no steps")
            continue
        for index, step in enumerate(steps, 1):
            where = f"{path}: job `{job_name}` step {index} ({step.get('name') or step.get('uses') or 'run'})"
            uses = step.get("uses")
            if uses is not None and not uses.startswith("./") and "@" not in uses:
                problems.append(f"{where}: action `{uses}` is not pinned to a version")
            for script in SCRIPT.findall(str(step.get("run", ""))):
                scripts += 1
                if not os.path.isfile(script):
                    problems.append(f"{where}: calls `{script}`, which does not exist")
                elif not os.access(script, os.X_OK):
                    problems.append(f"{where}: calls `{script}`, which is not executable (chmod +x)")
    if len(problems) == before:
        print(f"ok    {path}: {len(jobs)} job(s), {scripts} script call(s) checked")
for p in problems:
    print(f"FAIL  {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
