"""#15 item 12: column mapping suggests close names (rapidfuzz), never a far one, never a taken column."""

from __future__ import annotations

from lib.datasets import suggest_columns


def test_close_names_are_suggested_and_far_ones_are_not():
    cols = ["customer_company", "question", "ticket_body", "notes"]
    assert suggest_columns(cols, ["company", "question", "body", "zzz_unrelated"]) == {
        "company": "customer_company", "body": "ticket_body"}


def test_a_column_already_mapped_is_not_suggested_again():
    assert suggest_columns(["company"], ["company", "company_name"]) == {}  # its only close column is taken
