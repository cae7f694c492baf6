#!/usr/bin/env bash
# Mutation testing of the Python stage contract and metrics (`npm run mutation:py`; README "Mutation testing").
# mutmut 3 mutates jobs/src/sentinel_sdk/contract/__init__.py and jobs/src/sentinel_sdk/metrics.py and runs the
# fast pytest files against each mutant (tests/test_contract.py, tests/test_metrics.py: no Ray). It works on a copy
# of jobs/ in .cache/mutmut-work, so the tree is never touched; mutmut itself (pinned in
# scripts/mutmut-requirements.txt) is installed once into .cache/mutmut, not into .venv.
# Prints killed / survived / no tests and the score per file, then lists the survivors
# (`cd .cache/mutmut-work && PYTHONPATH=../mutmut ../../.venv/bin/python -m mutmut show <name>` shows one).
# A script, not a test suite: its exit status says whether it ran, not whether the score is high enough.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -x .venv/bin/python ] || bash scripts/bootstrap.sh  # only the Python side is needed here

py="$root/.venv/bin/python"
tool="$root/.cache/mutmut"
work="$root/.cache/mutmut-work"
want=$(sha256sum scripts/mutmut-requirements.txt | cut -c1-16)
if [ "$(cat "$tool/.sentinel-stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "mutation-py: installing mutmut into .cache/mutmut …" >&2
  rm -rf "$tool"
  "$py" -m pip install --disable-pip-version-check -q --no-deps --target "$tool" -r scripts/mutmut-requirements.txt >&2
  echo "$want" > "$tool/.sentinel-stamp"
fi

rm -rf "$work"
mkdir -p "$work"
(cd jobs && tar --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache -cf - src tests pyproject.toml) | tar -xf - -C "$work"
cat > "$work/setup.cfg" <<'EOF'
[mutmut]
source_paths = src
only_mutate =
    src/sentinel_sdk/contract/__init__.py
    src/sentinel_sdk/metrics.py
pytest_add_cli_args_test_selection =
    tests/test_contract.py
    tests/test_metrics.py
# Worker processes keep python's name (processes named after tools are ended by other work on shared machines).
use_setproctitle = false
EOF

started=$(date +%s)
(cd "$work" && PYTHONPATH="$tool" "$py" -m mutmut run --max-children 2 > mutmut.log 2>&1) || { tail -c 2000 "$work/mutmut.log" | tr '\r' '\n' | tail -15; exit 1; }
echo "mutation-py: mutmut ran in $(( $(date +%s) - started )) s"

"$py" - "$work" <<'PY'
import json, sys
from pathlib import Path

work = Path(sys.argv[1])
status = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout"}
rows, survivors = [], []
for meta in sorted((work / "mutants").rglob("*.py.meta")):
    name = str(meta.relative_to(work / "mutants"))[: -len(".meta")]
    counts = {"killed": 0, "timeout": 0, "survived": 0, "no tests": 0, "other": 0}
    for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        s = status.get(code, "other")
        counts[s] += 1
        if s in ("survived", "no tests"):
            survivors.append(f"{key} ({s})")
    detected = counts["killed"] + counts["timeout"]
    total = detected + counts["survived"] + counts["no tests"]
    rows.append((name, counts, 100 * detected / total if total else 100.0))
print(f"{'file':<42} {'killed':>7} {'timeout':>7} {'survived':>8} {'no tests':>8} {'score':>7}")
for name, c, score in rows:
    print(f"{name:<42} {c['killed']:>7} {c['timeout']:>7} {c['survived']:>8} {c['no tests']:>8} {score:>6.1f}%")
k = sum(c["killed"] + c["timeout"] for _, c, _ in rows)
t = sum(c["killed"] + c["timeout"] + c["survived"] + c["no tests"] for _, c, _ in rows)
print(f"{'all':<42} {'':>7} {'':>7} {'':>8} {'':>8} {100 * k / t if t else 100:>6.1f}%")
print("\nsurvivors:" if survivors else "\nno survivors")
for s in survivors:
    print(f"  {s}")
PY
