"""The one formatter set: unknown is 'unknown' (never 0 or '-'), and version labels are valid references."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lib.db import session_scope
from lib.prompts import create_prompt, resolve, save_version
from lib.ui import count, latency_text, money, percent, rate_per_s, score, spend, text_or_dash, tokens, version_label
from tests.actors import ADMIN


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA, math.nan])
def test_every_formatter_says_unknown(missing):
    for f in (money, spend, percent, latency_text, count, score, rate_per_s):
        assert f(missing) == "unknown", f
    assert tokens(missing, missing) == "unknown"
    assert text_or_dash(missing) == ""


def test_money_keeps_small_amounts_and_a_real_zero():
    assert money(0) == "$0"
    assert money(0.0) == "$0"
    assert money(12.345) == "$12.35"
    assert money(0.0042) == "$0.0042"
    assert money(0.0000123) == "$0.000012"


def test_spend_with_unpriced_calls_is_a_lower_bound():
    assert spend(1.5, 0) == "$1.50"
    assert spend(0.0, 3) == "≥ $0 (3 calls unpriced)"
    assert spend(0.25, 1) == "≥ $0.2500 (1 call unpriced)"
    assert spend(None, 4) == "unknown (4 calls unpriced)"
    assert spend(0.0, 4, calls=4) == "unknown (4 calls unpriced)"  # none priced: no '≥ $0'



def test_percent_latency_tokens():
    assert percent(1.0) == "100.0%"
    assert percent(0.125, 0) == "12%" or percent(0.125, 0) == "13%"
    assert latency_text(3466.175) == "3.5 s"
    assert latency_text(812.4) == "812 ms"
    assert latency_text(4.25) == "4.2 ms" or latency_text(4.25) == "4.3 ms"
    assert tokens(12, None, estimated=True) == "12 in / ? out (est.)"
    assert tokens(1200, 40) == "1,200 in / 40 out"


def test_version_label_is_a_reference_that_resolves(engine):
    with session_scope(engine) as s:
        v = create_prompt(actor=ADMIN, session=s, name="support", messages=[{"role": "user", "content": "hi"}])
        save_version(actor=ADMIN, session=s, name="support", messages=[{"role": "user", "content": "hi 2"}])
        label = version_label("support", 1)
        assert label == "support:1"
        assert resolve(session=s, ref=label).id == v.id
        s.commit()
