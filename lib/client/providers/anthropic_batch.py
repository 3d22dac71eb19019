"""Anthropic Message Batches behind the same four calls as OpenAI's Batch API, so provider-batch
mode (`lib.batch`) runs either kind through one path.

    upload_file(name, jsonl)   no Files API here: the OpenAI-shaped request lines are converted to
                               Anthropic `{custom_id, params}` requests and held until create_batch
    create_batch(file_id, ..)  POST /v1/messages/batches
    get_batch(id)              GET /v1/messages/batches/{id}; `processing_status: ended` reads as
                               `completed` with an output "file" naming the results
    file_content(file_id)      GET the results (JSONL) and give each line in the OpenAI batch shape:
                               succeeded -> a chat completion body, errored -> an error; canceled and
                               expired lines are left out (their items go back to pending)
    find_batch(..)             a batch whose creation was not answered (the process died): found by
                               its results' custom_ids (Message Batches have no metadata)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx

from lib.errors import ProtocolError, ValidationError

from . import anthropic_format as fmt
from .base import error_for_status, load_json, transport_error

_files = itertools.count(1)
RESULTS_PREFIX = "results:"
_STATUS = {"in_progress": "in_progress", "canceling": "cancelling", "ended": "completed"}


class MessageBatches:
    """Mixin for AnthropicProvider (needs `send`, `root`, `config`)."""

    has_batch_api = True

    async def _batch_api(self, method: str, url: str, body: bytes | None = None) -> Any:
        try:
            resp = await self.send(method, url, body)  # type: ignore[attr-defined]
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.config.name) from None  # type: ignore[attr-defined]
        if resp.status_code >= 400:
            raise error_for_status(resp.status_code, resp.text, resp.headers, self.config.name)  # type: ignore
        return resp

    async def upload_file(self, filename: str, content: bytes, purpose: str = "batch") -> dict[str, Any]:
        """Convert the JSONL of chat requests to Message Batch requests, held until create_batch."""
        requests = []
        for n, line in enumerate(content.decode().splitlines(), 1):
            if not line.strip():
                continue
            item = json.loads(line)
            body = dict(item.get("body") or {})
            model, messages = body.pop("model", ""), body.pop("messages", [])
            if not model or not messages:
                raise ValidationError(f"{filename} line {n}: a request needs model and messages")
            requests.append({"custom_id": str(item["custom_id"]),
                             "params": fmt.body_for(model, messages, body, stream=False)})
        pending = self.__dict__.setdefault("_held_batches", {})
        fid = f"held-{next(_files)}"
        pending[fid] = requests
        return {"id": fid, "bytes": len(content), "filename": filename}

    async def create_batch(self, input_file_id: str, endpoint: str, metadata: dict[str, str]) -> dict[str, Any]:
        """POST /v1/messages/batches with the held requests; the batch with its `id` and `status`."""
        requests = self.__dict__.get("_held_batches", {}).pop(input_file_id, None)
        if requests is None:
            raise ValidationError(f"{self.config.name}: batch input {input_file_id!r} is gone; "  # type: ignore
                                  "submit the job again")
        resp = await self._batch_api("POST", f"{self.root}/v1/messages/batches",  # type: ignore[attr-defined]
                                     json.dumps({"requests": requests}).encode())
        return self._as_openai(self._object(resp))

    async def find_batch(self, key: str, value: str, *, since: datetime | None = None,
                         custom_ids: Iterable[str] = ()) -> dict[str, Any] | str | None:
        """A batch whose creation was never answered: Message Batches carry no metadata, so it is
        recognised by its results' custom_ids among the last 100 batches created since `since` (two
        minutes' clock skew allowed).  'unknown' while such a batch is still running (no results to
        read yet: look again later); None when none of them is ours."""
        ours = set(custom_ids)
        resp = await self._batch_api("GET", f"{self.root}/v1/messages/batches?limit=100")  # type: ignore
        data = load_json(resp.content, self.config.name, resp.status_code, resp.headers)  # type: ignore
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ProtocolError(f"{self.config.name}: message batch list has no data",  # type: ignore
                                status_code=resp.status_code)
        unknown = False
        for b in data["data"]:
            if not isinstance(b, dict) or not isinstance(b.get("id"), str):
                continue
            try:
                created = datetime.fromisoformat(str(b.get("created_at")))
            except ValueError:
                created = None
            if since is not None and created is not None and created < since - timedelta(minutes=2):
                continue
            if b.get("processing_status") != "ended":
                unknown = True
                continue
            results = await self._batch_api("GET", f"{self.root}/v1/messages/batches/{b['id']}/results")  # type: ignore
            for line in results.text.splitlines():
                if line.strip() and json.loads(line).get("custom_id") in ours:
                    return self._as_openai(b)
        return "unknown" if unknown else None

    async def get_batch(self, batch_id: str) -> dict[str, Any]:
        """GET /v1/messages/batches/{id}, in the OpenAI batch shape."""
        resp = await self._batch_api("GET", f"{self.root}/v1/messages/batches/{batch_id}")  # type: ignore
        return self._as_openai(self._object(resp))

    async def file_content(self, file_id: str) -> str:
        """The batch results as OpenAI-shaped result lines (JSONL)."""
        if not file_id.startswith(RESULTS_PREFIX):
            raise ValidationError(f"{self.config.name}: no such batch results {file_id!r}")  # type: ignore
        batch_id = file_id[len(RESULTS_PREFIX):]
        resp = await self._batch_api("GET", f"{self.root}/v1/messages/batches/{batch_id}/results")  # type: ignore
        out = []
        for line in resp.text.splitlines():
            if line.strip():
                converted = _result_line(json.loads(line))
                if converted is not None:
                    out.append(json.dumps(converted, ensure_ascii=False))
        return "\n".join(out)

    def _object(self, resp: Any) -> dict[str, Any]:
        data = load_json(resp.content, self.config.name, resp.status_code, resp.headers)  # type: ignore
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ProtocolError(f"{self.config.name}: message batch answer has no id",  # type: ignore
                                status_code=resp.status_code)
        return data

    @staticmethod
    def _as_openai(b: dict[str, Any]) -> dict[str, Any]:
        status = _STATUS.get(str(b.get("processing_status")), str(b.get("processing_status") or "in_progress"))
        counts = b.get("request_counts") or {}
        out = {"id": b["id"], "status": status,
               "request_counts": {"total": sum(v for v in counts.values() if isinstance(v, int)),
                                  "completed": counts.get("succeeded", 0),
                                  "failed": counts.get("errored", 0) + counts.get("expired", 0)
                                  + counts.get("canceled", 0)}}
        if status == "completed":
            out["output_file_id"] = RESULTS_PREFIX + b["id"]
        return out


def _result_line(line: dict[str, Any]) -> dict[str, Any] | None:
    """One Anthropic result as an OpenAI batch result line (None for canceled / expired ones)."""
    cid = line.get("custom_id")
    result = line.get("result") or {}
    if result.get("type") == "succeeded":
        msg = result.get("message") or {}
        text, _reasoning, calls = fmt.read_blocks(msg.get("content") or [], structured=False)
        usage = msg.get("usage") or {}
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = calls
        body = {"id": msg.get("id"), "object": "chat.completion", "model": msg.get("model"),
                "choices": [{"index": 0, "message": message, "finish_reason": msg.get("stop_reason")}],
                "usage": {"prompt_tokens": usage.get("input_tokens"), "completion_tokens": usage.get("output_tokens")}}
        return {"custom_id": cid, "response": {"status_code": 200, "body": body}, "error": None}
    if result.get("type") == "errored":
        err = (result.get("error") or {}).get("error") or result.get("error") or {}
        return {"custom_id": cid, "response": None,
                "error": {"message": str(err.get("message") or err.get("type") or "errored")}}
    return None
