#!/usr/bin/env bash
# Mutation testing of compscore/engine, compscore/scoring and compscore/quality/rules.py with mutmut; prints
# the score and every mutant the tests miss. Slow (tens of minutes on 2 cores), so not part of CI.
#
#   scripts/mutation.sh                                   # every configured module
#   scripts/mutation.sh 'compscore.engine.reconcile*'     # a subset, by mutant-name glob
#
# Needs the dev extra (mutmut) in ./.venv (or $VENV); this script installs nothing. Configuration is
# [tool.mutmut] in pyproject.toml; results stay in ./mutants (git-ignored). See docs/testing.md.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${VENV:-$REPO_ROOT/.venv}/bin"
cd "$REPO_ROOT"
unset PYTHONPATH # mutmut puts ./mutants first on sys.path; nothing may shadow it

"$BIN/mutmut" run --max-children "${MUTATION_CHILDREN:-2}" "$@" || echo "mutmut run exited with $?" >&2
"$BIN/mutmut" results --all true | "$BIN/python" scripts/mutation_score.py "$@"
