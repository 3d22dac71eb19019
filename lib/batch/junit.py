"""JUnit XML of a batch job, the shape CI systems read: testsuites > testsuite > testcase > failure/error.

One testsuite per version x model, one testcase per dataset row and repeat. A failed evaluator
becomes `<failure message="evaluator: reason">`, an item that did not run becomes `<error>`, an
item nobody scored or still pending becomes `<skipped>`. Text is XML-escaped by ElementTree, and
characters XML 1.0 cannot hold (control bytes in model output) are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from sqlmodel import Session

from lib.models import BatchJob

from .reports import column_label, results, scores_of, version_labels

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_TEXT = 4000


def _clean(text: Any, limit: int = MAX_TEXT) -> str:
    s = _BAD_XML.sub("", "" if text is None else str(text))
    return s if len(s) <= limit else s[:limit] + "…"


def _items(session: Session, job_id: int, chunk: int = 1000):
    page = 1
    while True:
        rows, _ = results(session=session, job_id=job_id, page=page, page_size=chunk)
        if not rows:
            return
        scores = scores_of(session=session, run_ids=[r["run_id"] for r in rows if r["run_id"]])
        for r in rows:
            yield r, scores.get(r["run_id"], [])
        if len(rows) < chunk:
            return
        page += 1


def _case(suite: ET.Element, r: dict, scores: list[dict], classname: str) -> str:
    name = f"row {r['row']}" + (f" repeat {r['repeat']}" if r["repeat"] else "")
    secs = (r["latency_ms"] or 0) / 1000.0
    tc = ET.SubElement(suite, "testcase", name=name, classname=classname, time=f"{secs:.3f}")
    if r["state"] in ("error", "incomplete"):
        ET.SubElement(tc, "error", message=_clean(r["error"] or r["state"], 500), type=r["state"]).text = \
            _clean(r["output"])
        return "error"
    if r["state"] != "done":
        ET.SubElement(tc, "skipped", message=f"item is {r['state']}")
        return "skipped"
    failed = [s for s in scores if s["passed"] is False]
    if r["passed"] is False or failed:
        first = failed[0] if failed else {"evaluator": "evaluators", "reason": "failed"}
        msg = f"{first['evaluator']}: {first['reason'] or 'failed'}"
        body = "\n".join(f"{s['evaluator']}: {'pass' if s['passed'] else 'FAIL'} - {s['reason'] or ''}"
                         for s in scores)
        ET.SubElement(tc, "failure", message=_clean(msg, 500), type="assertion").text = \
            _clean(body + "\n--- output ---\n" + _clean(r["output"]))
        return "failure"
    if r["passed"] is None:
        ET.SubElement(tc, "skipped", message="no evaluator scored this item")
        return "skipped"
    return "pass"


def write_junit(*, session: Session, job_id: int, dest: str | Path) -> int:
    """Write the job as JUnit XML to `dest`; returns the number of testcases."""
    job = session.get(BatchJob, int(job_id))
    labels = version_labels(session=session, version_ids=list(job.version_ids))
    root = ET.Element("testsuites", name=f"batch job {job.id}: {_clean(job.name, 200)}")
    suites: dict[tuple[int, str], ET.Element] = {}
    tallies: dict[tuple[int, str], dict[str, float]] = {}
    for vid in job.version_ids:
        for model in job.models:
            key = (vid, model)
            suites[key] = ET.SubElement(root, "testsuite", name=column_label(labels.get(vid, str(vid)), model))
            tallies[key] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for r, scores in _items(session, job.id):
        key = (r["version_id"], r["model"])
        if key not in suites:
            continue
        outcome = _case(suites[key], r, scores, suites[key].get("name"))
        t = tallies[key]
        t["tests"] += 1
        t["time"] += (r["latency_ms"] or 0) / 1000.0
        if outcome == "failure":
            t["failures"] += 1
        elif outcome == "error":
            t["errors"] += 1
        elif outcome == "skipped":
            t["skipped"] += 1
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for key, suite in suites.items():
        t = tallies[key]
        for k in ("tests", "failures", "errors", "skipped"):
            suite.set(k, str(int(t[k])))
            total[k] += t[k]
        suite.set("time", f"{t['time']:.3f}")
        total["time"] += t["time"]
    for k in ("tests", "failures", "errors"):
        root.set(k, str(int(total[k])))
    root.set("time", f"{total['time']:.3f}")
    ET.indent(root)
    Path(dest).write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
    return int(total["tests"])
