"""Stored datasets: import a file into Dataset + DatasetRow rows, look them up, stream rows.

Parsing lives in `dataset_reader` (re-exported here: `read_file`, `ParsedDataset`).

Naming rule: the name defaults to the file's stem (slugged).  Importing the same bytes
(same content hash) under the same name returns the existing dataset, so re-uploads
are idempotent.  If the name is taken by DIFFERENT content, the new dataset gets the
first free suffixed name (`name-2`, `name-3`, ...) and a warning says so; nothing is
ever overwritten.

Revisions (copy on write): a stored revision is never edited.  `save_revision()` (an edit)
and `add_rows()` store the changed rows as revision N+1 of the same name, pointing at the
revision they came from; a job keeps the revision it ran on (`BatchJob.dataset_id`).  A name
refers to its latest revision, `name@N` to revision N.  `delete_dataset()` removes every
revision of a name, and only when no job uses any of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from sqlalchemy import delete, func, insert
from sqlmodel import Session, select

from lib import audit
from lib.errors import NotFoundError, ValidationError
from lib.identity import DATASET_WRITE, DELETE, Identity, require
from lib.models import BatchJob, Dataset, DatasetRow

from .reader import MAX_BYTES, MAX_ROWS, ParsedDataset, read_file

__all__ = [
    "MAX_BYTES",
    "MAX_ROWS",
    "ParsedDataset",
    "add_rows",
    "delete_dataset",
    "revisions",
    "save_revision",
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


def import_dataset(*, session: Session, actor: Identity, data: bytes, filename: str, name: str | None = None,
                   max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Dataset:
    """Parse and store a file; same bytes + same name returns the existing dataset."""
    require(actor, DATASET_WRITE)
    parsed = read_file(data, filename, max_bytes=max_bytes, max_rows=max_rows)
    return store_parsed(session=session, actor=actor, parsed=parsed, name=name)


def _latest(session: Session, name: str) -> Dataset | None:
    return session.exec(select(Dataset).where(Dataset.name == name).order_by(Dataset.revision.desc())).first()


def _insert(session: Session, actor: Identity, parsed: ParsedDataset, name: str, warnings: list[str],
            revision: int = 1, parent_id: int | None = None) -> Dataset:
    ds = Dataset(name=name, revision=revision, parent_id=parent_id, format=parsed.format,
                 filename=parsed.filename[:300], columns=list(parsed.columns), row_count=parsed.row_count,
                 content_hash=parsed.content_hash, encoding=parsed.encoding, warnings=warnings)
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
    audit.record(session, actor=actor, action="dataset.import" if revision == 1 else "dataset.revision",
                 object_type="dataset", object_id=f"{name}@{revision}",
                 summary=f"{'-' if revision == 1 else f'{name}@{revision - 1}'} -> {name}@{revision} "
                         f"({parsed.filename or 'rows'}, {n} rows, {parsed.format})")
    session.flush()
    return ds


def store_parsed(*, session: Session, actor: Identity, parsed: ParsedDataset, name: str | None = None) -> Dataset:
    """Store an already parsed file (rows bulk-inserted in chunks); see the module's naming rule."""
    require(actor, DATASET_WRITE)
    base = slug(name if name else PurePath(parsed.filename or "dataset").stem)
    existing = _latest(session, base)
    if existing is not None and existing.content_hash == parsed.content_hash:
        return existing
    final = _free_name(session, base)
    warnings = list(parsed.warnings)
    if final != base:
        warnings.append(f"a different dataset is already named {base!r}; stored as {final!r}")
    return _insert(session, actor, parsed, final, warnings)


_REV = re.compile(r"^(?P<name>.+?)@r?(?P<rev>\d+)$")


def get_dataset(*, session: Session, ref: str | int) -> Dataset:
    """A dataset by id, by name (its latest revision) or `name@N` (revision N); NotFoundError otherwise."""
    ds = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        ds = session.get(Dataset, int(ref))
    if ds is None and isinstance(ref, str):
        m = _REV.match(ref)
        if m:
            ds = session.exec(select(Dataset).where(Dataset.name == m["name"],
                                                    Dataset.revision == int(m["rev"]))).first()
        else:
            ds = _latest(session, ref)
    if ds is None:
        raise NotFoundError(f"unknown dataset {ref!r}: import it with `python -m lib datasets import FILE`")
    return ds


def revisions(*, session: Session, name: str) -> list[Dataset]:
    """Every revision of a dataset name, newest first."""
    return list(session.exec(select(Dataset).where(Dataset.name == name).order_by(Dataset.revision.desc())).all())


def save_revision(*, session: Session, actor: Identity, ref: str | int, rows: list[dict[str, Any]]) -> Dataset:
    """Store `rows` ({data, asserts?, description?, meta?} each) as the next revision of `ref`'s name.

    Copy on write: the revision `ref` names stays as it is. Identical content returns the latest revision.
    """
    require(actor, DATASET_WRITE)
    base = get_dataset(session=session, ref=ref)
    latest = _latest(session, base.name)
    cases = []
    for n, r in enumerate(rows, start=1):
        data = r.get("data")
        if not isinstance(data, dict):
            raise ValidationError(f"dataset {base.name!r} row {n}: expected a mapping of column to value")
        case: dict[str, Any] = {"vars": {str(k): "" if v is None else v for k, v in data.items()},
                                "assert": list(r.get("asserts") or [])}
        if r.get("description"):
            case["description"] = r["description"]
        if r.get("meta"):
            case["metadata"] = dict(r["meta"])
        cases.append(case)
    if not cases:
        raise ValidationError(f"dataset {base.name!r}: a revision needs at least one row")
    parsed = read_file(json.dumps(cases, ensure_ascii=False).encode(), f"{base.name}.json")
    if latest is not None and (latest.content_hash == parsed.content_hash or _same_rows(session, latest, parsed)):
        return latest
    return _insert(session, actor, parsed, base.name, [], revision=(latest.revision if latest else 0) + 1,
                   parent_id=base.id)


def _same_rows(session: Session, ds: Dataset, parsed: ParsedDataset) -> bool:
    """Whether a stored revision holds exactly these rows (cells, asserts, descriptions, metadata)."""
    if ds.row_count != parsed.row_count or list(ds.columns or []) != list(parsed.columns):
        return False
    for i, r in enumerate(iter_rows(session=session, dataset_id=ds.id)):
        if (dict(r.data or {}), list(r.asserts or []), r.description or None, dict(r.meta or {})) != (
                parsed.rows[i], parsed.asserts[i], parsed.descriptions[i] or None, parsed.metadata[i]):
            return False
    return True


def add_rows(*, session: Session, actor: Identity, ref: str | int, rows: list[dict[str, Any]]) -> Dataset:
    """A new revision of `ref` with `rows` appended (e.g. from History or Compare, answer as `__expected`)."""
    require(actor, DATASET_WRITE)
    base = get_dataset(session=session, ref=ref)
    old = [{"data": dict(r.data or {}), "asserts": list(r.asserts or []), "description": r.description,
            "meta": dict(r.meta or {})} for r in iter_rows(session=session, dataset_id=base.id)]
    return save_revision(session=session, actor=actor, ref=base.id, rows=old + list(rows))


def list_datasets(*, session: Session, all_revisions: bool = False) -> list[Dataset]:
    """Datasets newest first: the latest revision of each name, or every revision when asked."""
    q = select(Dataset)
    if not all_revisions:
        newest = select(Dataset.name, func.max(Dataset.revision).label("rev")).group_by(Dataset.name).subquery()
        q = q.join(newest, (newest.c.name == Dataset.name) & (newest.c.rev == Dataset.revision))
    return list(session.exec(q.order_by(Dataset.created_at.desc(), Dataset.id.desc())).all())


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


def delete_dataset(*, session: Session, actor: Identity, ref: str | int) -> list[int]:
    """Delete every revision of a dataset and their rows (admins); ValidationError if any batch job uses one."""
    require(actor, DELETE)
    ds = get_dataset(session=session, ref=ref)
    revs = revisions(session=session, name=ds.name)
    ids = [r.id for r in revs]
    jobs = list(session.exec(select(BatchJob.id).where(BatchJob.dataset_id.in_(ids)).order_by(BatchJob.id)).all())
    if jobs:
        raise ValidationError(f"dataset {ds.name!r} is used by batch job(s) {', '.join(map(str, jobs[:10]))}"
                              f"{' and more' if len(jobs) > 10 else ''}; delete those jobs' results first")
    audit.record(session, actor=actor, action="dataset.delete", object_type="dataset", object_id=ds.name,
                 summary=f"{ds.name} ({len(revs)} revision{'s' if len(revs) != 1 else ''}) -> -")
    for r in revs:  # newest first: a revision points at the one it came from
        session.execute(delete(DatasetRow).where(DatasetRow.dataset_id == r.id))
        session.delete(r)
        session.flush()
    return ids
