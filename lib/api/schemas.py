"""Request and response bodies of the HTTP API (pydantic), so the OpenAPI schema documents them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr


class ErrorDetail(BaseModel):
    """What went wrong, and which parameter it concerns."""

    model_config = ConfigDict(extra="allow")

    type: str
    message: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {type, message, param}}`."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what}
    for code, what in ((400, "Bad input"), (401, "Missing, invalid or revoked token"),
                       (403, "The token's scope does not allow this"), (404, "Not found"),
                       (409, "Conflict"), (422, "Invalid body or missing variables"),
                       (429, "Over the token's requests per minute (see Retry-After)"),
                       (500, "Internal error"), (502, "The upstream model failed"))
}


class Message(BaseModel):
    """A chat message (content is text or a list of parts)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = ""


class RenderRequest(BaseModel):
    """Variables to render a version with."""

    variables: dict[str, Any] = Field(default_factory=dict)
    label: StrictStr | None = Field(default=None, min_length=1, max_length=100)
    version: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)


class VersionRequest(BaseModel):
    """A new version of a prompt (the prompt is created when it does not exist)."""

    messages: list[Message] = Field(min_length=1, max_length=200)
    template_format: Literal["mustache", "jinja2"] = "mustache"
    model: str | None = Field(default=None, max_length=300)
    params: dict[str, Any] = Field(default_factory=dict)
    commit_message: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, max_length=50)


class LabelRequest(BaseModel):
    """The version a label should point at."""

    version: StrictInt = Field(ge=1, le=2**31 - 1)


class PromptList(BaseModel):
    """One page of prompts."""

    data: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


class RunList(BaseModel):
    """One page of runs."""

    data: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


class ChatCompletionRequest(BaseModel):
    """OpenAI chat completions; other OpenAI fields (temperature, max_tokens, tools...) pass through."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1, max_length=300,
                             description="endpoint/model, prompt:NAME@LABEL or prompt:NAME:VERSION")
    messages: list[dict[str, Any]] = Field(default_factory=list, max_length=1000,
                                           description="Leave empty with a prompt: model")
    stream: StrictBool = False
    stream_options: dict[str, Any] | None = None
    variables: dict[str, Any] | None = Field(default=None, description="Values for a prompt: model's variables")


class CompletionRequest(BaseModel):
    """OpenAI legacy completions: one prompt string."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1, max_length=300, description="endpoint/model")
    prompt: StrictStr | list[StrictStr] = Field(description="One prompt (a list of one string is accepted)")
    stream: StrictBool = False


class EmbeddingRequest(BaseModel):
    """OpenAI embeddings."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1, max_length=300, description="endpoint/model")
    input: StrictStr | list[StrictStr]


class TaskRequest(BaseModel):
    """A task for the orchestrator."""

    prompt: StrictStr = Field(min_length=1, max_length=1_000_000)
    task_type: StrictStr = Field(default="general", max_length=50)
    files: dict[str, StrictStr] | None = None
    service: StrictStr | None = Field(default=None, max_length=300)
    max_tokens: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    temperature: StrictFloat | StrictInt | None = Field(default=None, ge=0, le=2)
    stream: StrictBool = False
