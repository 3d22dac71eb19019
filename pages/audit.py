"""Audit (admins): who changed what and when, filtered, with a CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from lib import audit, db
from lib.errors import WorkbenchError
from pages._views.auth import actor
from pages._views.boot import require_app

require_app(__file__)

ANY = "(any)"
SINCE = {"24 hours": timedelta(hours=24), "7 days": timedelta(days=7), "30 days": timedelta(days=30), "all": None}

st.title("Audit")
st.caption("Every change to prompts, labels, endpoints, prices, roles, jobs and datasets, with who made it. "
           "Keys never appear here: an endpoint shows the name of its key variable only.")

me = actor()
try:
    with db.session_scope(db.get_engine()) as s:
        facets = audit.facets(session=s, actor=me)
        c1, c2, c3, c4 = st.columns(4)
        who = c1.selectbox("Who", [ANY, *facets["actors"]], key="audit_who")
        action = c2.selectbox("Action", [ANY, *facets["actions"]], key="audit_action")
        kind = c3.selectbox("Object", [ANY, *facets["object_types"]], key="audit_kind")
        window = c4.selectbox("Since", list(SINCE), index=1, key="audit_since")
        search = st.text_input("Search objects and summaries", key="audit_search",
                               placeholder="support-reply@production")
        since = datetime.now(UTC) - SINCE[window] if SINCE[window] else None
        events, total = audit.list_events(session=s, actor=me, who=None if who == ANY else who,
                                          action=None if action == ANY else action,
                                          object_type=None if kind == ANY else kind, since=since,
                                          search=search or None, limit=10_000)
        rows = [audit.event_to_dict(e) for e in events]
        csv_bytes = audit.to_csv(events)
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()

st.caption(f"{total:,} event{'s' if total != 1 else ''}" + (" (newest 10,000 shown)" if total > len(rows) else ""))
if rows:
    frame = pd.DataFrame(rows)[["created_at", "actor", "action", "object_type", "object_id", "summary"]]
    frame.columns = ["When (UTC)", "Who", "Action", "Object", "Name", "Change"]
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button("Export CSV", csv_bytes, file_name="audit.csv", mime="text/csv", icon=":material/download:",
                       key="audit_export")
else:
    st.info("No events match these filters.")
