"""Edit a stored dataset as a table (saved as a new revision), delete it, add an answer to a dataset."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lib import datasets
from lib.db import session_scope
from lib.errors import WorkbenchError
from lib.ui import EXPECTED_COLUMN, MAX_EDIT_ROWS, editor_frame, md_escape, row_from_answer, rows_from_frame
from pages._views.auth import actor

ss = st.session_state


def editor(engine: Any, info: dict) -> None:
    """The dataset as an editable table; Save stores revision N+1 (jobs keep the revision they ran on)."""
    with session_scope(engine) as s:
        ds = datasets.get_dataset(session=s, ref=int(info["id"]))
        latest = datasets.get_dataset(session=s, ref=ds.name)
        rev, name, columns = ds.revision, ds.name, list(ds.columns or [])
        rows = datasets.get_rows(session=s, dataset_id=ds.id, limit=MAX_EDIT_ROWS + 1)
        n_revs = len(datasets.revisions(session=s, name=name))
    title = f"Edit {name} (revision {rev} of {n_revs}; saving makes a new revision, jobs keep theirs)"
    with st.expander(title, expanded=False):
        if latest.id != ds.id:
            st.info(md_escape(f"This is revision {rev}; the latest is {latest.revision}. Saving starts from this one."))
        if len(rows) > MAX_EDIT_ROWS:
            st.caption(f"{info['row_count']:,} rows: too many to edit here; edit the file and import it again.")
            return
        frame = editor_frame(rows, columns)
        edited = st.data_editor(frame, num_rows="dynamic", hide_index=True, key=f"ds_edit_{ds.id}",
                                column_config={frame.columns[0]: st.column_config.NumberColumn(disabled=True),
                                               EXPECTED_COLUMN: st.column_config.TextColumn(
                                                   EXPECTED_COLUMN, help="Add an expectation, e.g. contains:Paris")},
                                width="stretch")
        if st.button("Save as a new revision", key=f"ds_save_{ds.id}"):
            try:
                new_rows = rows_from_frame(edited, rows, columns)
                with session_scope(engine) as s:
                    new = datasets.save_revision(actor=actor(), session=s, ref=ds.id, rows=new_rows)
                    s.commit()
                    new_id, new_rev = new.id, new.revision
                ss.batch_dataset_id, ss.batch_preflight = new_id, None
                ss["ds_flash"] = f"saved {name} revision {new_rev}" if new_id != latest.id else "no change to save"
                st.rerun()
            except WorkbenchError as exc:
                st.error(md_escape(str(exc)))
        if ss.get("ds_flash"):
            st.success(md_escape(ss.pop("ds_flash")))
        sure = st.checkbox(f"Delete {name} and all its revisions", key=f"ds_del_sure_{ds.id}")
        if st.button("Delete dataset", key=f"ds_delete_{ds.id}", disabled=not sure):
            try:
                with session_scope(engine) as s:
                    datasets.delete_dataset(actor=actor(), session=s, ref=ds.id)
                    s.commit()
                ss.batch_dataset_id, ss.batch_preflight = None, None
                st.rerun()
            except WorkbenchError as exc:
                st.error(md_escape(str(exc)))


def add_to_dataset(engine: Any, *, key: str, variables: dict | None, answer: str | None) -> None:
    """"Add to dataset": the variables as a new row of a stored dataset (a new revision), answer as __expected."""
    with session_scope(engine) as s:
        names = [d.name for d in datasets.list_datasets(session=s)]
    with st.popover("Add to dataset"):
        if not names:
            st.caption("No stored dataset yet (import one on the Batch page).")
            return
        target = st.selectbox("Dataset", names, key=f"{key}_ds")
        use = st.checkbox("Use this answer as __expected (equals)", value=True, key=f"{key}_use")
        if st.button("Add the row", key=f"{key}_add"):
            try:
                row = row_from_answer(variables or {}, answer, use)
                with session_scope(engine) as s:
                    new = datasets.add_rows(actor=actor(), session=s, ref=target, rows=[row])
                    s.commit()
                    st.success(md_escape(f"added to {new.name}: revision {new.revision}, {new.row_count} rows"))
            except WorkbenchError as exc:
                st.error(md_escape(str(exc)))
