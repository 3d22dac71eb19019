"""Compare page: showing a comparison (live while it runs, then from the database), votes, ratings, diff."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from lib import compare
from lib import runs as runs_lib
from lib.db import session_scope
from lib.errors import WorkbenchError
from lib.prompts import diff_texts
from lib.ui import md_escape
from pages._views import run_widgets as w
from pages._views.flash import flash, show_flashes

ss = st.session_state
POLL_S = 0.1
LIVE_CAP_S = 600.0


def live(job: compare.CompareJob, labels: list[str]) -> None:
    """Fill each column as its answer arrives, until every column is done (bounded)."""
    positions = job.order if job.blind else list(range(len(job.columns)))
    cols = st.columns(len(positions))
    holders = []
    for pos, idx in enumerate(positions):
        with cols[pos]:
            st.markdown(f"**{md_escape(compare.blind_name(pos) if job.blind else labels[idx])}**")
            holders.append((idx, st.empty(), st.empty()))
    status = st.empty()
    until = time.monotonic() + LIVE_CAP_S
    while time.monotonic() < until:
        snap = job.snapshot()
        for idx, text_slot, state_slot in holders:
            s = snap[idx]
            text_slot.code(s.text or " ", language=None, wrap_lines=True)
            state_slot.caption("done" if s.done else "streaming...")
        finished = sum(s.done for s in snap)
        status.caption(f"{finished} of {len(snap)} columns finished")
        if job.done:
            break
        time.sleep(POLL_S)
    status.empty()


def _rate(run_id: int, rating: int | None) -> None:
    note = ss.get(f"cmp_note_{run_id}", "")
    try:
        with session_scope() as session:
            runs_lib.rate_run(session=session, run_id=run_id, rating=rating, note=note)
        flash("cmp", "success", f"Saved your rating of run #{run_id}.")
    except WorkbenchError as exc:
        flash("cmp", "error", f"Could not save the rating: {exc}")


def _rating_widgets(run: Any) -> None:
    c1, c2 = st.columns(2)
    c1.button("Good", key=f"cmp_up_{run.id}", on_click=_rate, args=(run.id, 1), icon=":material/thumb_up:",
              type="primary" if run.rating == 1 else "secondary")
    c2.button("Bad", key=f"cmp_down_{run.id}", on_click=_rate, args=(run.id, -1), icon=":material/thumb_down:",
              type="primary" if run.rating == -1 else "secondary")
    ss.setdefault(f"cmp_note_{run.id}", run.note or "")
    st.text_input("Note", key=f"cmp_note_{run.id}", placeholder="why (saved with the rating)")


def _vote(compare_id: str, run_ids: list[int], by_name: dict[str, int], radio_key: str) -> None:
    winner = by_name.get(ss.get(radio_key))  # read at click time: "Tie" (or nothing picked) -> None
    try:
        with session_scope() as session:
            compare.record_vote(session=session, compare_id=compare_id, run_ids=run_ids, winner_run_id=winner)
        flash("cmp", "success", "Vote recorded: names revealed.")
    except WorkbenchError as exc:
        flash("cmp", "error", f"Could not record the vote: {exc}")


def show(compare_id: str, errors: dict[int, str] | None = None) -> None:
    """A saved comparison with its answers, metrics, marks, ratings, blind vote and diff."""
    try:
        with session_scope() as session:
            row = compare.get_comparison(session=session, compare_id=compare_id)
            runs = compare.runs_of(session=session, comparison=row)
            labels = compare.column_labels(session=session, comparison=row)
            voted = bool(compare.votes_of(session=session, compare_id=row.id))
            for r in runs:
                if r is not None:
                    session.expunge(r)
    except WorkbenchError as exc:
        w.lib_error(exc)
        return
    hidden = row.blind and not voted
    positions = list(row.order or range(len(row.columns))) if row.blind else list(range(len(row.columns)))
    names = [compare.blind_name(p) for p in range(len(positions))]
    marks = compare.mark_best(runs)
    show_flashes("cmp", toast=True)
    with st.expander("Shared variables"):
        st.json(row.variables or {}, expanded=True)
    cols = st.columns(len(positions))
    for pos, idx in enumerate(positions):
        run = runs[idx]
        with cols[pos]:
            title = names[pos] if hidden else (f"{names[pos]}: {labels[idx]}" if row.blind else labels[idx])
            st.markdown(f"**{md_escape(title)}**")
            if run is None:
                if (errors or {}).get(idx):
                    st.error(md_escape(f"This column could not run: {errors[idx]}"), icon=":material/error:")
                else:
                    st.info("No answer saved for this column (it failed before the call, or is still running).")
                continue
            w.show_error(run)
            w.show_answer(run.output)
            w.show_metrics(run, tuple(k for k, v in marks.items() if idx in v), compact=True)
            _rating_widgets(run)
    ids = [r.id for r in runs if r is not None]
    if row.blind and not voted and len(ids) >= 2:
        st.subheader("Which answer is best?")
        choices = [names[p] for p, i in enumerate(positions) if runs[i] is not None] + ["Tie"]
        st.radio("Your vote", choices, horizontal=True, key=f"cmp_vote_{row.id}")
        by_name = {names[p]: runs[i].id for p, i in enumerate(positions) if runs[i] is not None}
        st.button("Vote and reveal", key="cmp_vote_btn", on_click=_vote, type="primary",
                  args=(row.id, ids, by_name, f"cmp_vote_{row.id}"))
    _diff(runs, [names[positions.index(i)] if hidden else labels[i] for i in range(len(runs))])
    _leaderboard()


def _leaderboard() -> None:
    """The arena leaderboard from every vote (lib.arena: Bradley-Terry), computed only when asked."""
    with st.expander("Arena leaderboard (from votes)"):
        by = st.radio("Rank", ["model", "version_model", "version"], horizontal=True, key="cmp_rate_by",
                      format_func={"model": "models", "version_model": "prompt versions on models",
                                   "version": "prompt versions"}.get)
        if not st.toggle("Show the leaderboard", key="cmp_show_board"):
            return
        with session_scope() as session:
            board = compare.leaderboard(session, by=by, n_boot=100)
        if board.empty:
            st.caption("No votes between different contenders yet.")
        else:
            st.dataframe(board, hide_index=True)


def _diff(runs: list[Any], labels: list[str]) -> None:
    present = [i for i, r in enumerate(runs) if r is not None]
    if len(present) < 2:
        return
    st.subheader("Diff of two answers")
    c1, c2 = st.columns(2)
    a = c1.selectbox("From", present, key="cmp_diff_a", format_func=lambda i: labels[i], index=0)
    b = c2.selectbox("To", present, key="cmp_diff_b", format_func=lambda i: labels[i], index=1)
    d = diff_texts(runs[a].output, runs[b].output, labels[a], labels[b])
    if d.identical:
        st.success("The two answers are identical.")
        return
    st.caption(md_escape(f"similarity {d.similarity:.0%} · {d.removed_words} words removed, "
                         f"{d.added_words} added · shown as [-removed-] and {{+added+}}"))
    st.code(d.words, language=None, wrap_lines=True)
    with st.expander("Line diff"):
        st.code(d.unified or "(no line changes)", language="diff")
