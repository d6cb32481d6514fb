"""How outputs that are not tables (the parsed plans) are stored: as JSON, never as pickle.

Unpickling runs code named by the file, so a crafted `objects/<name>.pickle` in a warehouse would run
commands when read. A stored object is plain JSON instead, tagged with its kind:

- `{"kind": "plans", "plans": {plan_id: {"source": file, "yaml": text}}}` for the parsed plans
  (`dict[str, Plan]`): each plan as the YAML `compscore.plans.dump_plan` writes, read back with the
  same bounded, validating parser as a plan file (`parse_plan`), so the reader trusts nothing in it;
- `{"kind": "json", "value": ...}` for any other JSON value (dicts, lists, strings, numbers).

Anything else cannot be stored, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compscore.plans import Plan, dump_plan, parse_plan


class UnstorableObject(TypeError):
    """An object that is neither the parsed plans nor a JSON value."""


def encode(obj: Any) -> dict[str, Any]:
    """The JSON-ready, tagged form of `obj`."""
    if isinstance(obj, Mapping) and obj and all(isinstance(v, Plan) for v in obj.values()):
        return {
            "kind": "plans",
            "plans": {pid: {"source": plan.source, "yaml": dump_plan(plan)} for pid, plan in obj.items()},
        }
    return {"kind": "json", "value": obj}


def decode(data: Any, where: str = "<object>") -> Any:
    """The object stored as `data` (see `encode`); `ValueError` naming `where` when it is not one."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "json":
        return data.get("value")
    if kind == "plans" and isinstance(data.get("plans"), dict):
        plans: dict[str, Plan] = {}
        for pid, stored in data["plans"].items():
            if not isinstance(stored, dict) or not isinstance(stored.get("yaml"), str):
                raise ValueError(f"{where}: plan {pid!r} is not stored as {{source, yaml}}")
            plan = parse_plan(stored["yaml"], str(stored.get("source") or where))
            plans[plan.plan_id] = plan
        return plans
    raise ValueError(f"{where}: not a stored object (expected kind 'plans' or 'json')")
