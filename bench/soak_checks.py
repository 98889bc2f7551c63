"""What the soak checks at the end, each a function returning (passed, figures).

Run in the soak's process with Django configured for the soak's private instances (soak.py does that), after
the load stopped and the outbox was drained.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from bench.soak_faults import SHED_CODES, Window
from bench.soak_metrics import SAMPLE_S, Request

# The 503 codes docs/api.md documents ("a dependency is down; retrying is safe"): the only failure a fault
# window may cause.
OUTAGE_CODES = SHED_CODES
Check = tuple[bool, dict[str, Any]]


def read_acked(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_interactions(batches: list[dict[str, Any]]) -> dict[tuple[int, str, str, int], float | None]:
    """(user, type, item, kind) -> the value the store must hold (NaN: present without a value), None: absent.

    The last acknowledged change of each (user, item, kind) wins: a writer sends its batches one at a time,
    and the outbox applies a user's changes in order.
    """
    from recommendations.feedback import FEEDBACK

    state: dict[tuple[int, str, str, int], float | None] = {}
    for batch in batches:
        if not 200 <= batch["status"] < 300:
            continue
        for event in batch["events"]:
            mapped = FEEDBACK.get(event["event"])
            if mapped is None:
                continue
            kind, remove = mapped
            key = (batch["user_id"], event["content_type"], event["item_id"], int(kind))
            if remove:
                state[key] = None
            elif "value" in event:  # rated, on the type's own scale (the load sends no scale): stored as sent
                state[key] = float(event["value"])
            elif "rank" in event:
                state[key] = float(event["rank"])
            else:
                state[key] = math.nan
    return state


def check_events_stored_once(batches: list[dict[str, Any]], writer_ids: list[int]) -> Check:
    """Every event answered 2xx is stored, once; nothing else of the writers is stored; no batch left unanswered."""
    from django.db.models import Count

    from analytics.models import RecommendationEvent

    acked = {(b["user_id"], e["client_event_id"]) for b in batches if 200 <= b["status"] < 300 for e in b["events"]}
    unanswered = sum(len(b["events"]) for b in batches if not 200 <= b["status"] < 300)
    rows = (
        RecommendationEvent.objects.filter(user_id__in=writer_ids)
        .values("user_id", "client_event_id")
        .annotate(n=Count("id"))
    )
    stored = {(r["user_id"], r["client_event_id"]): r["n"] for r in rows}
    duplicates = sum(n - 1 for n in stored.values() if n > 1)
    missing = len(acked - set(stored))
    unexpected = len(set(stored) - acked)
    figures = {"acked": len(acked), "stored": len(stored), "missing": missing, "duplicates": duplicates,
               "stored_not_acked": unexpected, "never_acked": unanswered}  # fmt: skip
    return missing == duplicates == unexpected == unanswered == 0 and len(acked) > 0, figures


def check_events_applied(batches: list[dict[str, Any]], writer_ids: list[int]) -> Check:
    """The outbox is empty and the store holds exactly the last change of each (user, item, kind)."""
    from recommendations.data import get_interaction_store
    from recommendations.models import PendingInteraction

    expected = expected_interactions(batches)
    store = get_interaction_store()
    actual: dict[tuple[int, str, str, int], float] = {}
    for user_id in writer_ids:
        for ct in ("movies", "manga", "anime"):
            history = store.user_history(ct, user_id)
            for item, kind, value in zip(history.item_ids, history.kinds, history.values, strict=True):
                actual[(user_id, ct, str(item), int(kind))] = float(value)
    wrong = []
    for key, value in expected.items():
        if value is None:
            if key in actual:
                wrong.append((key, "present, expected absent"))
        elif key not in actual:
            wrong.append((key, "absent, expected present"))
        elif not (math.isnan(value) and math.isnan(actual[key])) and not math.isclose(value, actual[key], abs_tol=1e-4):
            wrong.append((key, f"value {actual[key]}, expected {value}"))
    # Writers have no seeded history: whatever they hold came from their events.
    extra = [key for key in actual if key not in expected]
    pending = PendingInteraction.objects.count()
    figures = {"changes_expected": len(expected), "present_expected": sum(v is not None for v in expected.values()),
               "wrong": len(wrong), "unexplained": len(extra), "outbox_pending": pending,
               "examples": [str(w) for w in wrong[:5]]}  # fmt: skip
    return not wrong and not extra and pending == 0 and len(expected) > 0, figures


def check_failures(requests: list[Request], windows: list[Window]) -> Check:
    """No request failed outside a fault window (an outage, the burst); inside one only with a documented 503."""
    outages = [w for w in windows if w.outage]
    outside: Counter[str] = Counter()
    undocumented: Counter[str] = Counter()
    tolerated: Counter[str] = Counter()
    for r in requests:
        if not r.failed:
            continue
        if not any(w.covers(r.started, r.ended) for w in outages):
            outside[f"{r.op} {r.kind}"] += 1
        elif r.status == 503 and r.code in OUTAGE_CODES:
            tolerated[f"{r.op} {r.kind}"] += 1
        else:
            undocumented[f"{r.op} {r.kind}"] += 1
    figures = {"outside_outages": dict(outside), "undocumented_in_outages": dict(undocumented),
               "documented_503_in_outages": dict(tolerated)}  # fmt: skip
    return not outside and not undocumented, figures


def check_slow_outside_faults(requests: list[Request], windows: list[Window], *, bound_ms: float) -> Check:
    """No request slower than ``bound_ms`` outside every window of the fault track (an outage, a retrain, a
    publish, the worker's kill, the burst); ``bound_ms`` 0 reports the figures and judges nothing (the 3-minute
    soak inside ``make test``: a test must not depend on the machine's speed)."""
    slow = [r for r in requests if r.ms > bound_ms and not any(w.covers(r.started, r.ended) for w in windows)]
    quiet = [r.ms for r in requests if not any(w.covers(r.started, r.ended) for w in windows)]
    figures = {"bound_ms": bound_ms, "slower_outside_faults": len(slow) if bound_ms else None,
               "max_ms_outside_faults": round(max(quiet), 1) if quiet else None,
               "slowest": sorted((f"{r.op} {round(r.ms)} ms" for r in slow), reverse=True)[:5]}  # fmt: skip
    return (not slow) if bound_ms else True, figures


def quiet_samples(samples: list[dict[str, Any]], windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Samples whose 10 s saw no fault window (a restart until ready again, or the burst: their connections
    come and go). Retrains count as quiet: what a training allocates is what the flatness check must see."""
    busy = [w for w in windows if w["outage"]]
    return [s for s in samples if not any(w["start_s"] <= s["t_s"] and w["end_s"] >= s["t_s"] - SAMPLE_S for w in busy)]


def check_flat(samples: list[dict[str, Any]], windows: list[dict[str, Any]], columns: list[str], *,
               bound: float, at_end: bool = False) -> Check:  # fmt: skip
    """Between faults, no worker's peak in the second round (or, ``at_end``, its mean over the last minute) is more
    than ``bound`` above the first round's peak.

    The second round repeats everything the first did (restarts, retrains, the burst, publishes), so what the
    first round grew (pools, caches, a training's memory) may stay; growth again is a leak. The first round's peak
    is the highest of any worker (``columns``, one per worker): a retrain runs in whichever worker took its request,
    so a worker that trains for the first time in the second round grows to what the first trainer reached.
    Open fds are judged at the end: they include pooled connections, which a burst grows up to the pools' bounds
    (20 PostgreSQL, 100 Neo4j per worker) until the server closes them; a leak is what is still open at the end.
    """
    # The rounds meet where the second one starts: the quiet samples after the first round's last step belong to
    # it. (Its last step's end was the boundary once, and a 3-minute run on a clean clone then had no quiet sample
    # in its first round: the two after the step ended fell on the second round's side.)
    second_starts = [w["start_s"] for w in windows if w["round"] == 2]
    first_end = min(second_starts) if second_starts else max(w["end_s"] for w in windows if w["round"] == 1)
    quiet = quiet_samples(samples, windows)
    first = [s for s in quiet if s["t_s"] <= first_end]
    second = [s for s in quiet if s["t_s"] > first_end]
    if not first or not second:
        return False, {"error": f"quiet samples: {len(first)} in the first round, {len(second)} in the second"}
    baseline = max(float(s[name]) for s in first for name in columns)
    figures: dict[str, Any] = {"bound": bound, "first_round_peak": round(baseline, 1),
                               "quiet_samples": [len(first), len(second)]}  # fmt: skip
    ok = True
    for name in columns:
        last_minute = second[-int(60 / SAMPLE_S) :]
        peak = (
            sum(float(s[name]) for s in last_minute) / len(last_minute)
            if at_end
            else max(float(s[name]) for s in second)
        )
        figures[name] = {
            "first_round_peak": round(max(float(s[name]) for s in first), 1),
            "second_round_end" if at_end else "second_round_peak": round(peak, 1),
            "last": round(float(second[-1][name]), 1),
            "growth": round(peak - baseline, 1),
        }
        ok = ok and peak - baseline <= bound
    return ok, figures


def check_versions_released(final: dict[str, dict[str, int]], published: int) -> Check:
    """At the end no worker maps a file of a model version deleted from disk (the store keeps the newest 3 per
    type: one that outlived 3 newer versions was never let go). ``mapped_versions`` (3 types) is reported: a
    worker may still hold the previous version of a type for the request that was using it."""
    deleted = sum(w["deleted_mapped"] for w in final.values())
    figures = {"published": published, "deleted_still_mapped": deleted, "workers": final}
    return deleted == 0 and published >= 10, figures


def check_redis_keys_without_ttl(port: int, users: int) -> Check:
    """Keys that never expire are only the cache generations (global, per type, buds, one per user)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        by_prefix: Counter[str] = Counter()
        total = 0
        for key in client.scan_iter(count=1000):
            total += 1
            if client.ttl(key) == -1:
                name = key.decode(errors="replace")
                # One per user: counted under the prefix; the global, per-type and buds generations by name.
                by_prefix[name.rsplit(":", 1)[0] if ":gen:user:" in name else name] += 1
    finally:
        client.close()
    generations = sum(n for prefix, n in by_prefix.items() if ":recs:gen:" in prefix)
    others = {prefix: n for prefix, n in by_prefix.items() if ":recs:gen:" not in prefix}
    figures = {"keys": total, "without_ttl": sum(by_prefix.values()), "by_prefix": dict(by_prefix)}
    return not others and generations <= users + 8, figures
