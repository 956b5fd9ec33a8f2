"""failed_write_burst: at least ``burst_min_failures`` failed write or delete operations by one caller within
``burst_window_minutes``. One finding per burst (the failures that follow inside it belong to it); the
finding is about the subscription of the burst's first failure, labelled with the caller."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from detectors.activity.common import Context, Hit
from detectors.activity.record import Operation

__all__ = ["check"]


def check(ops: Sequence[Operation], ctx: Context) -> list[Hit]:
    window = timedelta(minutes=ctx.config.burst_window_minutes)
    need = ctx.config.burst_min_failures
    by_caller: dict[str, list[Operation]] = {}
    for op in ops:
        if op.status == "Failed" and op.verb in ("write", "delete") and op.caller:
            by_caller.setdefault(op.caller.lower(), []).append(op)
    hits: list[Hit] = []
    for failures in by_caller.values():
        failures.sort(key=lambda o: o.time)
        i = 0
        while i + need <= len(failures):
            if failures[i + need - 1].time - failures[i].time <= window:
                j = i + need
                while j < len(failures) and failures[j].time - failures[i].time <= window:
                    j += 1
                burst = failures[i:j]
                first = burst[0]
                hits.append(
                    Hit(
                        f"/subscriptions/{first.subscription_id}",
                        f"{len(burst)} failed writes/deletes by {first.caller} in "
                        f"{(burst[-1].time - first.time).total_seconds() / 60:.1f} min",
                        first,
                        {
                            "failures": len(burst),
                            "operations": sorted({o.operation for o in burst}),
                            "correlation_ids": [o.correlation_id for o in burst],
                            "first": first.time.isoformat(),
                            "last": burst[-1].time.isoformat(),
                        },
                        {"caller": first.caller},
                    )
                )
                i = j
            else:
                i += 1
    return hits
