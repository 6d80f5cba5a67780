"""Consent statistics: counts and opt-in rates per day, country, method or category.

Takes a connection and the `db.Tables` of the site; needs no Flask.
"""

from __future__ import annotations

from datetime import datetime

from .codec import category_granted_sql
from .db import Tables, transaction
from .validation import CATEGORIES

GROUPS = {
    "day": "DATE(received_at)",
    "country": "country",
    "method": "method",
}


def stats(conn, t: Tables, group_by: str, start: datetime | None,
          end: datetime | None) -> list[dict]:
    """Counts and opt-in rates per group. Decisions are grant/update records; the rate of a
    category is the share of decisions that granted it. Withdrawals are counted apart."""
    # Erased records keep their non-personal fields, so they still count (country blank).
    where, args = ["1 = 1"], []
    if start:
        where.append("received_at >= %s")
        args.append(start)
    if end:
        where.append("received_at < %s")
        args.append(end)
    cat = ", ".join(
        f"SUM(action <> 'withdraw' AND {category_granted_sql(k)}) AS `{k}`"
        for k in CATEGORIES)
    key = GROUPS.get(group_by, "'all'")
    with transaction(conn) as cur:
        cur.execute(
            f"SELECT {key} AS k, COUNT(*) AS total, SUM(action <> 'withdraw') AS decisions,"
            f" SUM(action = 'withdraw') AS withdrawals, {cat}"
            f" FROM {t.consents} WHERE ({') AND ('.join(where)})"
            f" GROUP BY k ORDER BY {'k' if group_by == 'day' else 'total DESC, k'}", args)
        rows = cur.fetchall()
    out = []
    for r in rows:
        decisions = int(r["decisions"] or 0)
        granted = {k: int(r[k] or 0) for k in CATEGORIES}
        out.append({
            "key": r["k"].isoformat() if hasattr(r["k"], "isoformat") else r["k"],
            "total": int(r["total"]), "decisions": decisions,
            "withdrawals": int(r["withdrawals"] or 0), "granted": granted,
            "opt_in_rate": {k: (round(v / decisions, 4) if decisions else None)
                            for k, v in granted.items()},
        })
    if group_by == "category":
        all_ = out[0] if out else {"decisions": 0, "granted": dict.fromkeys(CATEGORIES, 0)}
        out = [{"key": k, "decisions": all_["decisions"], "granted": all_["granted"][k],
                "opt_in_rate": (round(all_["granted"][k] / all_["decisions"], 4)
                                if all_["decisions"] else None)} for k in CATEGORIES]
    return out
