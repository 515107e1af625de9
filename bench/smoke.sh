#!/usr/bin/env bash
# Every benchmark script with --quick, one after the other: a smoke test that they still
# run and that their money checks pass (a script that raises, or finds the books wrong,
# exits non-zero, and so does this). The figures of a quick run say nothing; nothing is
# written into the repository (bench/load.py's report goes to the standard output only).
#
#   bench/smoke.sh                                   # on SQLite files in temporary directories
#   bench/smoke.sh postgresql://USER@HOST:5432/NAME  # on PostgreSQL: each script creates and
#                                                    # drops its own NAME_<script>… databases
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
url=${1:-}
logs=$(mktemp -d -t ates-bench-smoke-XXXXXX)
trap 'rm -rf "$logs"' EXIT
began=$SECONDS
for script in tasks pages shuffle notifications live accounting analytics load deploy_shuffle deploy_search bounds popugs_search; do
  args=(--quick)
  if [ -n "$url" ]; then
    case $script in
      load) args+=(--database-url "${url%/*}/") ;;  # a server: it names its own database
      *) args+=(--database-url "${url}_${script}") ;;
    esac
  fi
  [ "$script" = load ] && args+=(--out -)
  started=$SECONDS
  if "$python" "bench/$script.py" "${args[@]}" >"$logs/$script.log" 2>&1; then
    echo "bench/$script.py ${args[*]}: ok in $((SECONDS - started)) s"
  else
    status=$?
    tail -n 60 "$logs/$script.log"
    echo "bench/$script.py ${args[*]}: FAILED (exit $status) after $((SECONDS - started)) s"
    exit 1
  fi
done
echo "bench smoke run: every script ok in $((SECONDS - began)) s"
