"""`datasets` commands: import a file, list stored datasets, show one."""

from __future__ import annotations

from pathlib import Path

import typer

from lib import datasets
from lib.db import get_engine, session_scope
from lib.identity import cli_operator
from lib.models import Dataset

from .common import JsonOpt, emit, handle_errors


def _summary(ds: Dataset) -> dict:
    return {"id": ds.id, "name": ds.name, "revision": ds.revision, "parent_id": ds.parent_id,
            "format": ds.format, "filename": ds.filename, "rows": ds.row_count,
            "columns": list(ds.columns or []), "encoding": ds.encoding, "warnings": list(ds.warnings or []),
            "content_hash": ds.content_hash, "created_at": ds.created_at}


def register(app: typer.Typer) -> None:
    """Add the `datasets` command group."""
    sub = typer.Typer(no_args_is_help=True, help="Datasets: import CSV/TSV/JSONL/JSON files for batch runs.")
    app.add_typer(sub, name="datasets")

    @sub.command("import")
    @handle_errors
    def import_(file: Path = typer.Argument(..., help="CSV, TSV, JSONL or JSON file."),  # noqa: B008
                name: str | None = typer.Option(None, "--name", help="Dataset name (default: file name)."),
                as_json: bool = JsonOpt) -> None:
        """Import a file; prints rows, columns and warnings (exit 2 naming row and column on bad input)."""
        if not file.is_file():
            raise FileNotFoundError(f"no such file: {file}")
        size = file.stat().st_size
        if size > datasets.MAX_BYTES:
            raise ValueError(f"file {file.name}: {size / 2**20:.1f} MB, over the {datasets.MAX_BYTES // 2**20} MB cap")
        with session_scope(get_engine()) as session:
            ds = datasets.import_dataset(actor=cli_operator(), session=session, data=file.read_bytes(),
                                         filename=file.name, name=name)
            info = _summary(ds)

        def human() -> str:
            lines = [f"dataset {info['name']} (id {info['id']}): {info['rows']} rows, {len(info['columns'])} columns",
                     f"columns: {', '.join(info['columns'])}",
                     f"format: {info['format']}, encoding: {info['encoding']}"]
            lines += [f"warning: {w}" for w in info["warnings"]]
            return "\n".join(lines)

        emit(info, as_json, human)

    @sub.command("list")
    @handle_errors
    def list_(latest: bool = typer.Option(False, "--latest", help="Only the latest revision of each name."),
              as_json: bool = JsonOpt) -> None:
        """Stored datasets and their revisions, newest first (`name@N` names revision N)."""
        with session_scope(get_engine()) as session:
            items = [_summary(d) for d in datasets.list_datasets(session=session, all_revisions=not latest)]

        def human() -> str:
            if not items:
                return "no datasets yet: python -m lib datasets import FILE"
            return "\n".join(f"{d['id']:>4}  {d['name'] + '@' + str(d['revision']):<34} {d['rows']:>7} rows  "
                             f"{d['format']:<5} {', '.join(d['columns'])[:60]}" for d in items)

        emit(items, as_json, human)

    @sub.command("delete")
    @handle_errors
    def delete(ref: str = typer.Argument(..., help="Dataset name or id (every revision goes)."),
               as_json: bool = JsonOpt) -> None:
        """Delete a dataset and all its revisions (refused while a batch job uses one of them)."""
        with session_scope(get_engine()) as session:
            name = datasets.get_dataset(session=session, ref=ref).name
            ids = datasets.delete_dataset(actor=cli_operator(), session=session, ref=ref)
            session.commit()
        emit({"deleted": name, "revisions": len(ids), "ids": ids}, as_json,
             f"deleted dataset {name} ({len(ids)} revision(s))")

    @sub.command("show")
    @handle_errors
    def show(ref: str = typer.Argument(..., help="Dataset name or id."),
             rows: int = typer.Option(5, "--rows", min=0, max=1000, help="How many rows to print."),
             as_json: bool = JsonOpt) -> None:
        """A dataset's details and its first rows."""
        with session_scope(get_engine()) as session:
            ds = datasets.get_dataset(session=session, ref=ref)
            info = _summary(ds)
            info["first_rows"] = [{"idx": r.idx, "data": r.data, "asserts": r.asserts, "description": r.description,
                                   "meta": r.meta}
                                  for r in datasets.get_rows(session=session, dataset_id=ds.id, limit=rows)]

        def human() -> str:
            head = (f"dataset {info['name']} (id {info['id']}): {info['rows']} rows, format {info['format']}, "
                    f"encoding {info['encoding']}")
            lines = [head, f"columns: {', '.join(info['columns'])}"]
            lines += [f"warning: {w}" for w in info["warnings"]]
            for r in info["first_rows"]:
                cells = ", ".join(f"{k}={v[:40]!r}" for k, v in r["data"].items())
                lines.append(f"  row {r['idx']}: {cells}" + (f"  asserts={len(r['asserts'])}" if r["asserts"] else ""))
            return "\n".join(lines)

        emit(info, as_json, human)
