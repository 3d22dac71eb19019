"""The one set of number formatters every screen uses: money, percent, latency, tokens, counts, version labels.

No Streamlit here.  Unknown is always the word "unknown", never 0 or a dash, so a missing price or a missing
measurement can never be read as a real zero.  `money` and `spend` differ on purpose: `money` formats one known
amount, `spend` a total that may have unpriced calls in it ("≥ $X (N calls unpriced)").
"""

from __future__ import annotations

import math
from typing import Any

from lib.prompts import version_ref

UNKNOWN = "unknown"


def _missing(v: Any) -> bool:
    """None, NaN and pandas' NA/NaT all mean unknown."""
    if v is None:
        return True
    try:
        return bool(v != v) or (isinstance(v, float) and math.isnan(v))  # NaN != NaN; pd.NA raises
    except (TypeError, ValueError):
        return True


def money(v: float | None) -> str:
    """One amount in USD: '$0', '$1.23', '$0.0042', '$0.000012'; 'unknown' when the price is unknown."""
    if _missing(v):
        return UNKNOWN
    v = float(v)
    if v == 0:
        return "$0"
    a = abs(v)
    if a >= 1:
        return f"${v:,.2f}"
    if a >= 0.0001:
        return f"${v:,.4f}"
    return f"${v:,.6f}"


def spend_parts(v: float | None, unpriced: int | None = 0, calls: int | None = None) -> tuple[str, str | None]:
    """A total of costs as (figure, note): ('$X', None) when every call is priced, ('unknown', 'N calls
    unpriced') when none is, ('≥ $X', 'N calls unpriced') else. A metric tile shows the note under the figure."""
    n = 0 if _missing(unpriced) else int(unpriced or 0)
    note = f"{n:,} call{'s' if n != 1 else ''} unpriced" if n else None
    if _missing(v) or (n and calls is not None and n >= calls):
        return UNKNOWN, note
    return (f"≥ {money(v)}" if n else money(v)), note


def spend(v: float | None, unpriced: int | None = 0, calls: int | None = None) -> str:
    """A total of costs: exact when every call is priced, 'unknown' when none is, '≥ $X (N calls unpriced)' else."""
    figure, note = spend_parts(v, unpriced, calls)
    return f"{figure} ({note})" if note else figure


def percent(v: float | None, digits: int = 1) -> str:
    """A rate in [0, 1] as a percentage ('12.5%'); 'unknown' when unknown."""
    if _missing(v):
        return UNKNOWN
    return f"{float(v):.{digits}%}"


def latency_text(ms: float | None) -> str:
    """Milliseconds: '4.2 ms', '812 ms', '3.5 s'; 'unknown' when not measured."""
    if _missing(ms):
        return UNKNOWN
    ms = float(ms)
    if ms < 10:
        return f"{ms:,.1f} ms"
    if ms < 1000:
        return f"{ms:,.0f} ms"
    return f"{ms / 1000:,.1f} s" if ms < 60_000 else f"{ms / 60_000:,.1f} min"


def tokens(prompt: int | None, completion: int | None, estimated: bool = False) -> str:
    """'12 in / 40 out' with '(est.)' when the provider reported no usage; 'unknown' when neither is known."""
    if _missing(prompt) and _missing(completion):
        return UNKNOWN
    def one(n: Any) -> str:
        return "?" if _missing(n) else f"{int(n):,}"
    return f"{one(prompt)} in / {one(completion)} out" + (" (est.)" if estimated else "")


def count(v: int | None) -> str:
    """An integer with thousands separators; 'unknown' when unknown."""
    return UNKNOWN if _missing(v) else f"{int(v):,}"


def score(v: float | None) -> str:
    """A score in [0, 1] (every evaluator's scale) with three decimals; 'unknown' when unknown."""
    return UNKNOWN if _missing(v) else f"{float(v):.3f}"


def rate_per_s(v: float | None) -> str:
    """Items per second; 'unknown' when unknown."""
    return UNKNOWN if _missing(v) else f"{float(v):,.1f}/s"


def version_label(name: str | None, number: int | None) -> str:
    """The one label of a prompt version, which is also a valid reference: 'support:3'."""
    if not name:
        return "ad-hoc" if number is None else f"version {number}"
    return name if number is None else version_ref(name, number)


def text_or_dash(v: Any) -> str:
    """A cell value for a table: '' for None/NaN (never the string 'None')."""
    return "" if _missing(v) else str(v)


def when_utc(ts: Any) -> str:
    """A stored time as '2026-12-01 14:05 UTC' ('' for none)."""
    return "" if _missing(ts) else ts.strftime("%Y-%m-%d %H:%M UTC")


def check_text(ok: bool | None, kind: str | None, at: Any) -> str:
    """An endpoint's last Test in a few words: 'never tested', 'ok 2026-12-01 14:05 UTC',
    'failed (timeout) 2026-12-01 14:05 UTC'."""
    if ok is None:
        return "never tested"
    when = when_utc(at)
    if ok:
        return f"ok {when}".strip()
    return ((f"failed ({kind}) " if kind else "failed ") + when).strip()
