"""Print the mutation score from `mutmut results --all true` on stdin (scripts/mutation.sh).

Arguments are mutant-name globs (as given to `mutmut run`); only those mutants are counted. Killed and
timed-out mutants count as caught; survivors and mutants no test reaches count against the score.
"""

from __future__ import annotations

import fnmatch
import sys
from collections import Counter

CAUGHT = {"killed", "timeout"}


def main(patterns: list[str]) -> int:
    by_status: Counter[str] = Counter()
    missed = []
    for line in sys.stdin:
        name, _, status = line.strip().rpartition(": ")
        if not name or (patterns and not any(fnmatch.fnmatch(name, p) for p in patterns)):
            continue
        by_status[status] += 1
        if status not in CAUGHT | {"skipped", "not checked"}:
            missed.append(f"{status:>10}  {name}")
    counted = sum(n for s, n in by_status.items() if s not in {"skipped", "not checked"})
    caught = sum(by_status[s] for s in CAUGHT)
    print("\n".join(missed))
    print(", ".join(f"{s}: {n}" for s, n in sorted(by_status.items())))
    if counted:
        print(f"mutation score: {caught}/{counted} = {100 * caught / counted:.1f} % of mutants caught")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
