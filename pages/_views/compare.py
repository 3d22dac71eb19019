"""Compare page: showing a comparison (live while it runs, then from the database), votes, ratings, diff."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import streamlit as st

from lib import compare
from lib import runs as runs_lib
from lib.db import get_engine, session_scope
from lib.errors import WorkbenchError
from lib.prompts import diff_texts
from lib.ui import md_escape, percent
from pages._views import run_widgets as w
from pages._views.auth import actor
from pages._views.dataset_edit import add_to_dataset
from pages._views.flash import flash, show_flashes

ss = st.session_state
POLL_S = 0.1
MIN_VOTES_FOR_INTERVAL = 5  # below this a bootstrap interval is noise (one vote gives a zero-width one)
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
            runs_lib.rate_run(actor=actor(), session=session, run_id=run_id, rating=rating, note=note)
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
    choice = ss.get(radio_key)  # read at click time
    if choice is None:
        flash("cmp", "warning", "Pick an answer (or Tie) first.")
        return
    winner = by_name.get(choice)  # "Tie" -> None
    try:
        with session_scope() as session:
            compare.record_vote(actor=actor(), session=session, compare_id=compare_id, run_ids=run_ids,
                                winner_run_id=winner)
        flash("cmp", "success", "Vote recorded: names revealed.")
    except WorkbenchError as exc:
        flash("cmp", "error", f"Could not record the vote: {exc}")


def show(compare_id: str, errors: dict[int, str] | None = None) -> None:
    """A saved comparison: answers, metrics, marks, ratings, diff; in blind mode only the answers until the vote."""
    try:
        with session_scope() as session:
            d = compare.comparison_display(session=session, compare_id=compare_id)
    except WorkbenchError as exc:
        w.lib_error(exc)
        return
    show_flashes("cmp", toast=True)
    _permalink(d.compare_id)
    with st.expander("Shared variables"):
        st.json(d.variables, expanded=True)
    cols = st.columns(len(d.positions))
    for pos, idx in enumerate(d.positions):
        run = d.runs[pos]
        with cols[pos]:
            st.markdown(f"**{md_escape(d.titles[pos])}**")
            if run is None:
                if (errors or {}).get(idx) and not d.hidden:
                    st.error(md_escape(f"This column could not run: {errors[idx]}"), icon=":material/error:")
                else:
                    st.info("No answer saved for this column (it failed before the call, or is still running).")
                continue
            if not d.hidden:
                w.show_error(run)
            w.show_output(run)
            if not d.hidden:  # cost, tokens, latency and run # tell the columns apart: only after the vote
                w.show_metrics(run, d.marks.get(pos, ()), compact=True)
                _rating_widgets(run)
                if d.variables:
                    add_to_dataset(get_engine(), key=f"cmp_add_{run.id}", variables=dict(d.variables),
                                   answer=run.output)
    if d.hidden and len(d.run_ids) >= 2:
        _vote_box(d)
    _diff(d)
    if not d.hidden:
        _leaderboard()


def permalink_url(compare_id: str) -> str:
    """The address that reopens a comparison: this page's URL with ?compare=ID (relative when unknown)."""
    here = (st.context.url or "").split("?", 1)[0].split("#", 1)[0]
    return f"{here}?compare={quote(compare_id, safe='')}"


def _permalink(compare_id: str) -> None:
    """A link that opens the comparison and the same address as code (its copy button copies it)."""
    link = permalink_url(compare_id)
    st.caption("Permalink: share it to show this comparison (with its answers) to someone else")
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    with c1:
        st.code(link, language=None, wrap_lines=True)
    c2.link_button("Open", link, icon=":material/open_in_new:", width="stretch")


def _vote_box(d: compare.ComparisonDisplay) -> None:
    st.subheader("Which answer is best?")
    present = [p for p, r in enumerate(d.runs) if r is not None]
    by_name = {d.titles[p]: d.runs[p].id for p in present}
    radio_key = f"cmp_vote_{d.compare_id}"
    st.radio("Your vote", [*by_name, "Tie"], horizontal=True, key=radio_key, index=None)
    st.button("Vote and reveal", key="cmp_vote_btn", on_click=_vote, type="primary",
              args=(d.compare_id, d.run_ids, by_name, radio_key))


def _leaderboard() -> None:
    """The arena leaderboard from every vote (lib.arena: Bradley-Terry), computed only when asked."""
    with st.expander("Arena leaderboard (from votes)", key="cmp_arena_open", on_change="rerun"):
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
            shown = board.drop(columns=["ci_low", "ci_high"]).assign(**{"95% interval": [
                "needs more votes" if n < MIN_VOTES_FOR_INTERVAL or lo == hi else f"{lo:g} to {hi:g}"
                for n, lo, hi in zip(board["votes"], board["ci_low"], board["ci_high"], strict=True)]})
            shown["win_rate"] = [percent(x) for x in shown["win_rate"]]
            st.dataframe(shown, hide_index=True)


def _diff(d: compare.ComparisonDisplay) -> None:
    present = [p for p, r in enumerate(d.runs) if r is not None]
    if len(present) < 2:
        return
    st.subheader("Diff of two answers")
    c1, c2 = st.columns(2)
    # keyed by comparison and mode, so a box never keeps the names of another (or the unblinded) comparison
    key = f"cmp_diff_{d.compare_id}_{'blind' if d.hidden else 'open'}"
    a = c1.selectbox("From", present, key=f"{key}_a", format_func=lambda p: d.titles[p], index=0)
    b = c2.selectbox("To", present, key=f"{key}_b", format_func=lambda p: d.titles[p], index=1)
    td = diff_texts(d.runs[a].output, d.runs[b].output, d.titles[a], d.titles[b])
    if td.identical:
        st.success("The two answers are identical.")
        return
    st.caption(md_escape(f"similarity {td.similarity:.0%} · {td.removed_words} words removed, "
                         f"{td.added_words} added · shown as [-removed-] and {{+added+}}"))
    st.code(td.words, language=None, wrap_lines=True)
    with st.expander("Line diff"):
        st.code(td.unified or "(no line changes)", language="diff")
