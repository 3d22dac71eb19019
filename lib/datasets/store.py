"""Stored datasets: import a file into Dataset + DatasetRow rows, look them up, stream rows.

Parsing lives in `dataset_reader` (re-exported here: `read_file`, `ParsedDataset`).

Naming rule: the name defaults to the file's stem (slugged).  Importing the same bytes
(same content hash) under the same name returns the existing dataset, so re-uploads
are idempotent.  If the name is taken by DIFFERENT content, the new dataset gets the
first free suffixed name (`name-2`, `name-3`, ...) and a warning says so; nothing is
ever overwritten.  A dataset is never edited after import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePath

from sqlalchemy import delete, func, insert
from sqlmodel import Session, select

from lib.errors import NotFoundError, ValidationError
from lib.models import Dataset, DatasetRow

from .reader import MAX_BYTES, MAX_ROWS, ParsedDataset, read_file

__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "ParsedDataset",
    "delete_dataset",
    "get_dataset",
    "get_rows",
    "import_dataset",
    "iter_rows",
    "list_datasets",
    "read_file",
    "slug",
    "store_parsed",
]

CHUNK = 2000


def slug(text: str) -> str:
    """A dataset name from free text: letters, digits, '.', '_' and '-' (max 200 chars)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-._")
    return (s or "dataset")[:200]


def _free_name(session: Session, base: str) -> str:
    taken = set(session.exec(select(Dataset.name).where(Dataset.name.like(f"{base[:190]}%"))).all())
    if base not in taken:
        return base
    for n in range(2, 10_000):
        cand = f"{base[:190]}-{n}"
        if cand not in taken:
            return cand
    raise ValidationError(f"too many datasets named {base!r}")


def import_dataset(*, session: Session, data: bytes, filename: str, name: str | None = None,
                   max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Dataset:
    """Parse and store a file; same bytes + same name returns the existing dataset."""
    parsed = read_file(data, filename, max_bytes=max_bytes, max_rows=max_rows)
    return store_parsed(session=session, parsed=parsed, name=name)


def store_parsed(*, session: Session, parsed: ParsedDataset, name: str | None = None) -> Dataset:
    """Store an already parsed file (rows bulk-inserted in chunks); see the module's naming rule."""
    base = slug(name if name else PurePath(parsed.filename or "dataset").stem)
    existing = session.exec(select(Dataset).where(Dataset.name == base)).first()
    if existing is not None and existing.content_hash == parsed.content_hash:
        return existing
    final = _free_name(session, base)
    warnings = list(parsed.warnings)
    if final != base:
        warnings.append(f"a different dataset is already named {base!r}; stored as {final!r}")
    ds = Dataset(name=final, format=parsed.format, filename=parsed.filename[:300], columns=list(parsed.columns),
                 row_count=parsed.row_count, content_hash=parsed.content_hash, encoding=parsed.encoding,
                 warnings=warnings)
    session.add(ds)
    session.flush()
    table = DatasetRow.__table__
    n = parsed.row_count
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        session.execute(insert(table), [
            {"dataset_id": ds.id, "idx": i + 1, "data": parsed.rows[i], "asserts": parsed.asserts[i],
             "description": parsed.descriptions[i], "meta": parsed.metadata[i]}
            for i in range(start, stop)])
    session.flush()
    return ds


def get_dataset(*, session: Session, ref: str | int) -> Dataset:
    """A dataset by id (int or digits) or by name; NotFoundError names what was asked."""
    ds = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        ds = session.get(Dataset, int(ref))
    if ds is None and isinstance(ref, str):
        ds = session.exec(select(Dataset).where(Dataset.name == ref)).first()
    if ds is None:
        raise NotFoundError(f"unknown dataset {ref!r}: import it with `python -m lib datasets import FILE`")
    return ds


def list_datasets(*, session: Session) -> list[Dataset]:
    """Every dataset, newest first."""
    return list(session.exec(select(Dataset).order_by(Dataset.created_at.desc(), Dataset.id.desc())).all())


def iter_rows(*, session: Session, dataset_id: int, batch_size: int = 1000) -> Iterator[DatasetRow]:
    """The dataset's rows in order (idx), fetched in batches (memory stays flat)."""
    last = 0
    while True:
        chunk = list(session.exec(select(DatasetRow).where(DatasetRow.dataset_id == dataset_id,
                                                           DatasetRow.idx > last)
                                  .order_by(DatasetRow.idx).limit(batch_size)).all())
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].idx
        if len(chunk) < batch_size:
            return


def get_rows(*, session: Session, dataset_id: int, offset: int = 0, limit: int = 50) -> list[DatasetRow]:
    """A page of rows (for previews and the mapping wizard)."""
    return list(session.exec(select(DatasetRow).where(DatasetRow.dataset_id == dataset_id)
                             .order_by(DatasetRow.idx).offset(offset).limit(limit)).all())


def count_rows(*, session: Session, dataset_id: int) -> int:
    """Rows stored for a dataset."""
    return int(session.exec(select(func.count()).select_from(DatasetRow)
                            .where(DatasetRow.dataset_id == dataset_id)).one())


def delete_dataset(*, session: Session, ref: str | int) -> None:
    """Delete a dataset and its rows (fails if a batch job still uses it)."""
    ds = get_dataset(session=session, ref=ref)
    session.execute(delete(DatasetRow).where(DatasetRow.dataset_id == ds.id))
    session.delete(ds)
    session.flush()
