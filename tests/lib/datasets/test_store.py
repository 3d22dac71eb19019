"""Stored datasets on SQLite and PostgreSQL: import, idempotence, naming, lookup, row streaming, 100k rows."""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from lib.datasets import store as datasets
from lib.db import session_scope
from lib.errors import DatasetError, NotFoundError
from lib.models import Dataset, DatasetRow
from tests import data_files as files
from tests.actors import ADMIN


def test_import_stores_rows_text_and_asserts(engine):
    with session_scope(engine) as s:
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=files.promptfoo_csv(), filename="promptfoo.csv")
        ds_id = ds.id
    with session_scope(engine) as s:
        ds = datasets.get_dataset(session=s, ref="promptfoo")
        assert ds.id == ds_id and ds.row_count == 3 and ds.format == "csv"
        assert ds.columns == ["language", "input"]
        rows = list(datasets.iter_rows(session=s, dataset_id=ds_id))
        assert [r.idx for r in rows] == [1, 2, 3]
        assert rows[0].data == {"language": "French", "input": "Hello"}
        assert rows[0].asserts == [{"type": "icontains", "value": "bonjour"},
                                   {"type": "similar", "value": "Bonjour le monde", "threshold": 0.7}]
        assert rows[0].description == "greeting" and rows[0].meta == {"topic": "small talk"}
        assert rows[1].asserts == [{"type": "equals", "value": "Danke"},
                                   {"type": "contains", "value": "merci", "negate": True}]


def test_same_bytes_same_name_returns_existing(engine):
    data = files.excel_csv_utf8()
    with session_scope(engine) as s:
        a = datasets.import_dataset(actor=ADMIN, session=s, data=data, filename="cases.csv").id
    with session_scope(engine) as s:
        b = datasets.import_dataset(actor=ADMIN, session=s, data=data, filename="cases.csv").id
        assert a == b
        assert s.exec(select(DatasetRow).where(DatasetRow.dataset_id == a)).all().__len__() == 3
        assert len(datasets.list_datasets(session=s)) == 1


def test_name_clash_with_other_content_gets_suffix(engine):
    with session_scope(engine) as s:
        first = datasets.import_dataset(actor=ADMIN, session=s, data=files.tsv(), filename="cases.tsv")
        second = datasets.import_dataset(actor=ADMIN, session=s, data=files.pipe(), filename="x.csv", name="cases")
        third = datasets.import_dataset(actor=ADMIN, session=s, data=files.latin1(), filename="cases.csv")
        assert (first.name, second.name, third.name) == ("cases", "cases-2", "cases-3")
        assert any("already named 'cases'" in w for w in second.warnings)
        # the original is untouched
        assert datasets.get_dataset(session=s, ref="cases").row_count == 1
        assert [d.name for d in datasets.list_datasets(session=s)] == ["cases-3", "cases-2", "cases"]


def test_lookup_by_id_and_unknown(engine):
    with session_scope(engine) as s:
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=files.json_array(), filename="arr.json",
                                     name="My data!")
        assert ds.name == "My-data"
        assert datasets.get_dataset(session=s, ref=ds.id).name == "My-data"
        assert datasets.get_dataset(session=s, ref=str(ds.id)).name == "My-data"
        with pytest.raises(NotFoundError, match="unknown dataset 'nope'"):
            datasets.get_dataset(session=s, ref="nope")
        rows = datasets.get_rows(session=s, dataset_id=ds.id, limit=1)
        assert rows[0].data == {"q": "a", "n": "1", "x": "", "nested": '{"k": [1, 2]}'}


def test_bad_file_stores_nothing(engine):
    with session_scope(engine) as s, pytest.raises(DatasetError, match="row 2"):
        datasets.import_dataset(actor=ADMIN, session=s, data=files.ragged_rows(), filename="ragged.csv")
    with session_scope(engine) as s:
        assert s.exec(select(Dataset)).all() == []


def test_delete_dataset(engine):
    with session_scope(engine) as s:
        ds = datasets.import_dataset(actor=ADMIN, session=s, data=files.pipe(), filename="p.csv")
        datasets.delete_dataset(actor=ADMIN, session=s, ref="p")
        assert s.exec(select(DatasetRow).where(DatasetRow.dataset_id == ds.id)).all() == []
        with pytest.raises(NotFoundError):
            datasets.get_dataset(session=s, ref="p")


def test_iter_rows_streams_in_order_across_batches(engine):
    data = files.big_csv(2_345)
    with session_scope(engine) as s:
        ds_id = datasets.import_dataset(actor=ADMIN, session=s, data=data, filename="mid.csv").id
    with session_scope(engine) as s:
        idx = [r.idx for r in datasets.iter_rows(session=s, dataset_id=ds_id, batch_size=500)]
        assert idx == list(range(1, 2_346))
        assert datasets.count_rows(session=s, dataset_id=ds_id) == 2_345


def test_import_100k_rows(engine):
    data = files.big_csv(100_000)
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        ds_id = datasets.import_dataset(actor=ADMIN, session=s, data=data, filename="big.csv").id
    elapsed = time.perf_counter() - t0
    with session_scope(engine) as s:
        assert datasets.count_rows(session=s, dataset_id=ds_id) == 100_000
        last = datasets.get_rows(session=s, dataset_id=ds_id, offset=99_999, limit=5)
        assert [r.idx for r in last] == [100_000]
        assert last[0].data == {"id": "99999", "question": "What is 99999 + 99999, exactly?",
                                "context": 'Café row 99999 — "quoted"', "expected": "199998"}
    print(f"100k-row import on {engine.dialect.name}: {elapsed:.2f}s")  # the speed claim: bench/dataset_import.py


def test_row_cap_is_enforced(engine):
    with session_scope(engine) as s, pytest.raises(DatasetError, match="row 11.*row cap"):
        datasets.import_dataset(actor=ADMIN, session=s, data=files.big_csv(11), filename="b.csv", max_rows=10)
