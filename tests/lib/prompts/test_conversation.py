"""Image/PDF attachments judged by content, and conversation threads: answers, tool results, new turns,
saved as a version or a dataset row."""

from __future__ import annotations

import base64
import json

import pytest
from sqlmodel import Session

from lib import prompts
from lib.datasets import import_dataset
from lib.errors import ValidationError
from tests.actors import ADMIN

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
PDF = b"%PDF-1.4\n%..." + b"0" * 20
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def test_media_type_is_read_from_the_bytes_not_the_name():
    m = prompts.read_media("photo.txt", PNG)
    assert m.media_type == "image/png" and m.part["image_url"]["url"].startswith("data:image/png;base64,")
    assert base64.b64decode(m.part["image_url"]["url"].split(",", 1)[1]) == PNG
    pdf = prompts.read_media("a.pdf", PDF)
    assert pdf.part == {"type": "file", "file": {"filename": "a.pdf",
                                                 "file_data": "data:application/pdf;base64," +
                                                              base64.b64encode(PDF).decode()}}
    with pytest.raises(ValidationError, match="cat.png: not a PNG"):
        prompts.read_media("cat.png", b"<html><script>alert(1)</script>")
    with pytest.raises(ValidationError, match="big.png: .* over the 1 MB limit"):
        prompts.read_media("big.png", PNG + b"0" * (1024 * 1024), max_bytes=1024 * 1024)


def test_attached_message_is_a_valid_version_message_and_counts_an_image_estimate():
    msg = prompts.with_media({"role": "user", "content": "What is it?"}, [prompts.read_media("x.png", PNG)])
    assert [p["type"] for p in msg["content"]] == ["text", "image_url"]
    assert prompts.thread_messages([msg])[0] == msg
    assert prompts.has_media([msg]) and not prompts.has_media([{"role": "user", "content": "x"}])
    plain = prompts.count_messages([{"role": "user", "content": "What is it?"}])
    assert prompts.count_messages([msg]) == plain + prompts.IMAGE_TOKEN_ESTIMATE


def test_tool_call_answered_and_continued():
    thread = [{"role": "user", "content": "Weather in Paris?"}, prompts.assistant_turn("", [CALL])]
    assert thread[-1] == {"role": "assistant", "content": None, "tool_calls": [CALL]}
    assert prompts.pending_calls(thread) == [CALL] and not prompts.can_continue(thread)
    with pytest.raises(ValidationError, match="pending tool call"):
        prompts.add_user_turn(thread, "hello?")
    with pytest.raises(ValidationError, match="'nope' is not waiting"):
        prompts.answer_tool(thread, "nope", "18C")
    with pytest.raises(ValidationError, match="type the tool's result"):
        prompts.answer_tool(thread, "c1", "  ")
    thread = prompts.answer_tool(thread, "c1", "18C and sunny")
    assert prompts.can_continue(thread) and prompts.pending_calls(thread) == []
    thread = [*thread, prompts.assistant_turn("It is 18C."), ]
    thread = prompts.add_user_turn(thread, "And tomorrow?")
    assert [m["role"] for m in thread] == ["user", "assistant", "tool", "assistant", "user"]


def test_thread_saved_as_version_and_as_dataset_row(engine):
    thread = [{"role": "user", "content": "Weather in Paris?"}, prompts.assistant_turn("", [CALL]),
              {"role": "tool", "tool_call_id": "c1", "content": "18C"}, prompts.assistant_turn("It is 18C.")]
    with Session(engine, expire_on_commit=False) as s:
        v = prompts.create_prompt(actor=ADMIN, session=s, name="thread", messages=prompts.thread_messages(thread))
        assert [m["role"] for m in v.messages] == ["user", "assistant", "tool", "assistant"]
        row = prompts.thread_row(thread, {"city": "Paris"})
        ds = import_dataset(actor=ADMIN, session=s, data=prompts.rows_jsonl([row]), filename="thread.jsonl")
        s.commit()
        assert set(ds.columns) == {"city", "history", "expected"}
    history = json.loads(row["history"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool"] and row["expected"] == "It is 18C."
    # the row feeds a prompt with a placeholder: the history expands back into messages
    out = prompts.render_messages([{"role": "placeholder", "name": "history"}], {"history": row["history"]})
    assert out[1]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_an_image_part_url_can_come_from_a_batch_column(tmp_path, monkeypatch):
    from lib.settings import get_settings

    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "tom.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("not an image")
    monkeypatch.setenv("WORKBENCH_MEDIA_DIR", str(tmp_path))
    get_settings.cache_clear()
    msgs = [{"role": "user", "content": [{"type": "text", "text": "Describe {{name}}"},
                                         {"type": "image_url", "image_url": {"url": "{{image}}"}}]}]
    assert prompts.variables(msgs) == ["name", "image"]
    out = prompts.render_messages(msgs, {"name": "Tom", "image": "cats/tom.png"})
    assert out[0]["content"][1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    out = prompts.render_messages(msgs, {"name": "Tom", "image": "https://x.test/tom.png"})
    assert out[0]["content"][1]["image_url"]["url"] == "https://x.test/tom.png"
    for bad, needle in (("../etc/passwd", "not a file under the media folder"), ("notes.txt", "not a PNG")):
        with pytest.raises(ValidationError, match=needle) as ei:
            prompts.render_messages(msgs, {"name": "Tom", "image": bad})
        assert "message 1 (user)" in str(ei.value)
    monkeypatch.delenv("WORKBENCH_MEDIA_DIR")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="no media folder is configured"):
        prompts.render_messages(msgs, {"name": "Tom", "image": "cats/tom.png"})


def test_an_oversized_file_in_the_media_folder_is_refused_by_its_size_naming_the_variable(tmp_path, monkeypatch):
    """Before: the whole file was read into memory first, and the message did not name the variable."""
    from lib.settings import get_settings

    with open(tmp_path / "huge.png", "wb") as f:  # sparse: 2 GB on paper, nothing on disk
        f.write(PNG)
        f.truncate(2 * 1024**3)
    monkeypatch.setenv("WORKBENCH_MEDIA_DIR", str(tmp_path))
    get_settings.cache_clear()
    msgs = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "{{image}}"}}]}]
    with pytest.raises(ValidationError, match=r"variable 'image': huge.png is 2,147,483,648 bytes, over the 5 MB"):
        prompts.render_messages(msgs, {"image": "huge.png"})
    get_settings.cache_clear()
