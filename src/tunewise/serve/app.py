"""The OpenAI-compatible HTTP API: /v1/models, /v1/chat/completions, /v1/completions (both streaming as
server-sent events), /health, and /admin/adapters to load and unload adapters while serving; and for export
folders (`tunewise export`), /v1/predict (any task) and /v1/classify (classification: label + probabilities), which
answer exactly as the exported rung was scored.

Safe by default: an API key (when set) on every route but /health (401), a body size limit (413), caps on
max_tokens, n and prompt length (400), and a limit on requests in progress (429, never an unbounded queue).
Every error is OpenAI's error object: {"error": {"message", "type", "param", "code"}}.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from tunewise.export.package import ExportedRung, probabilities, text_example
from tunewise.models.chat_template import prompt_ids
from tunewise.serve.adapters import AdapterNotFound, AdapterPool, ServeError
from tunewise.serve.engine import Engine, Event, Job
from tunewise.serve.settings import ServeSettings


class APIError(Exception):
    """An error answered as OpenAI's error object with this HTTP status."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        headers = {"Retry-After": "1"} if self.status == 429 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


# ---------------------------------------------------------------- request bodies (unknown fields are ignored)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Body):
    type: Literal["text"]
    text: str


class ChatMessage(_Body):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(_Body):
    include_usage: bool = False


class _Generation(_Body):
    """The decoding fields chat and text completions share. temperature defaults to 0 (greedy): the decoding the
    report's numbers were measured with, so the served model answers as it was scored."""

    model: str
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    n: int = Field(1, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None

    def stops(self) -> tuple[str, ...]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4:
            raise APIError(400, "stop takes up to 4 strings", param="stop")
        return tuple(s for s in stops if s)


class ChatRequest(_Generation):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    # Accepted by OpenAI, not by this server: refused instead of silently ignored.
    tools: list | None = None
    functions: list | None = None
    logprobs: bool | None = None
    response_format: dict | None = None


class CompletionRequest(_Generation):
    prompt: str | list[str]
    max_tokens: int = Field(16, ge=1)  # OpenAI's default for text completions
    echo: bool = False
    suffix: str | None = None
    logprobs: int | None = None
    best_of: int | None = None


UNSUPPORTED = {"tools": "tool calls", "functions": "function calls", "logprobs": "log probabilities",
               "echo": "echo", "suffix": "suffix", "best_of": "best_of"}


# ---------------------------------------------------------------- the app


class Admission:
    """Counts requests in progress; a request over the limit is refused with 429 instead of waiting."""

    def __init__(self, limit: int):
        self.limit, self.active = limit, 0

    def enter(self) -> Ticket:
        if self.active >= self.limit:
            raise APIError(429, f"the server is answering {self.limit} requests already (its --max-concurrent); "
                           "retry shortly", "rate_limit_error", code="rate_limit_exceeded")
        self.active += 1
        return Ticket(self)


class Ticket:
    """One admitted request's place; leave() gives it back (more calls do nothing)."""

    def __init__(self, admission: Admission):
        self.admission, self.left = admission, False

    def leave(self) -> None:
        if not self.left:
            self.left = True
            self.admission.active -= 1


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413, by its Content-Length or as it arrives."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = self._too_large(int(declared))
            return await response(scope, receive, send)
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # FastAPI passes an HTTPException from reading the body on as it is
                raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)

    def _too_large(self, size: int) -> JSONResponse:
        return APIError(413, f"request body is {size} bytes; this server takes at most {self.max_bytes} "
                        "(its --max-body-bytes)", code="request_too_large").response()


class PredictRequest(_Body):
    """POST /v1/predict and /v1/classify: one input text or a list of them, each the user message."""

    model: str
    input: str | list[str]

    def texts(self) -> list[str]:
        texts = [self.input] if isinstance(self.input, str) else self.input
        if not texts or not all(t.strip() for t in texts):
            raise APIError(400, "input must be a non-empty string or a list of them", param="input",
                           code="invalid_value")
        return texts


class LoadRequest(_Body):
    """POST /admin/adapters: load <adapter dir>/<name>."""

    name: str


def create_app(pool: AdapterPool, engine: Engine, settings: ServeSettings,
               exports: dict[str, ExportedRung] | None = None) -> FastAPI:
    """The FastAPI app over a loaded pool and a started engine, and the loaded exports by name (they answer
    /v1/predict and /v1/classify)."""
    exports = exports or {}
    app = FastAPI(title="tunewise serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    admission = Admission(settings.max_concurrent)
    created = int(time.time())

    @app.exception_handler(APIError)
    async def _api_error(request: Request, err: APIError):
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p != "body")
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                            for e in err.errors())
        return APIError(400, message, param=where or None, code="invalid_value").response()

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code)
        return APIError(err.status_code, f"{request.method} {request.url.path}: {err.detail}", code=code).response()

    def authorised(request: Request) -> None:
        if settings.api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, key = given.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise APIError(401, "no API key: send 'Authorization: Bearer KEY'", code="invalid_api_key")
        if not hmac.compare_digest(key.strip().encode(), settings.api_key.encode()):
            raise APIError(401, "incorrect API key", code="invalid_api_key")

    guarded = [Depends(authorised)]

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": len(pool.names()), "in_progress": admission.active,
                "waiting": engine.waiting, "batches": engine.batches, "largest_batch": engine.largest_batch}

    @app.get("/v1/models", dependencies=guarded)
    async def models():
        names = [*pool.names(), *(n for n in exports if n not in pool.names())]
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created, "owned_by": "tunewise",
                                            "routes": _routes(name)} for name in names]}

    def _routes(name: str) -> list[str]:
        routes = ["/v1/chat/completions", "/v1/completions"] if name in pool.names() else []
        if name in exports:
            routes += ["/v1/predict"] + (["/v1/classify"] if exports[name].classifies else [])
        return routes

    @app.post("/v1/predict", dependencies=guarded)
    async def predict(body: PredictRequest):
        predictions = await _predictions(body)
        data = [{"object": "prediction", "index": i, "output": p.output}
                | ({"probabilities": probabilities(p.scores)} if p.scores else {}) for i, p in enumerate(predictions)]
        return _prediction_list(body.model, data, predictions)

    @app.post("/v1/classify", dependencies=guarded)
    async def classify(body: PredictRequest):
        if body.model in exports and not exports[body.model].classifies:
            raise APIError(400, f"the model '{body.model}' answers a {exports[body.model].task.type} task, not "
                           "labels: use /v1/predict", param="model", code="not_a_classifier")
        predictions = await _predictions(body)
        data = [{"object": "classification", "index": i, "label": p.output, "probabilities": probabilities(p.scores)}
                for i, p in enumerate(predictions)]
        return _prediction_list(body.model, data, predictions)

    async def _predictions(body: PredictRequest) -> list:
        if body.model not in exports:
            raise APIError(404, f"the model '{body.model}' is not an export; exports here: "
                           f"{', '.join(exports) or 'none (serve a folder `tunewise export` wrote)'}", param="model",
                           code="model_not_found")
        texts = body.texts()
        if len(texts) > settings.max_inputs:
            raise APIError(400, f"{len(texts)} inputs; this server takes at most {settings.max_inputs} per request "
                           "(its --max-inputs)", param="input", code="invalid_value")
        exported = exports[body.model]
        ticket = admission.enter()
        try:
            predictions = await asyncio.to_thread(exported.predict, [text_example(t) for t in texts])
        except Exception as err:  # noqa: BLE001 -- the request gets the error; the server keeps serving
            raise APIError(500, f"prediction failed: {err}", "server_error", code="prediction_failed") from None
        finally:
            ticket.leave()
        return predictions

    @app.post("/v1/chat/completions", dependencies=guarded)
    async def chat(body: ChatRequest):
        _refuse_unsupported(body)
        if body.response_format and body.response_format.get("type", "text") != "text":
            raise APIError(400, "response_format other than text is not supported", param="response_format")
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                    for m in body.messages]
        prompt = prompt_ids(pool.tokenizer, messages)
        max_tokens = body.max_completion_tokens or body.max_tokens or settings.max_tokens
        return await _answer(body, [prompt], max_tokens, "chat", param="messages")

    @app.post("/v1/completions", dependencies=guarded)
    async def completions(body: CompletionRequest):
        _refuse_unsupported(body)
        texts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if not texts:
            raise APIError(400, "prompt is empty", param="prompt")
        prompts = [pool.tokenizer.encode(text) for text in texts]
        return await _answer(body, prompts, body.max_tokens, "text", param="prompt")

    async def _answer(body: _Generation, prompts: list[list[int]], max_tokens: int, kind: str, param: str):
        _check_limits(body, prompts, max_tokens, param)
        jobs = _jobs(body, prompts, max_tokens)
        prompt_tokens = sum(map(len, prompts)) * body.n
        ticket = admission.enter()
        if body.stream:  # the ticket is given back when the stream ends, however it ends
            events = _events(engine, jobs, ticket)
            return StreamingResponse(_sse(events, body, kind, len(jobs), prompt_tokens),
                                     media_type="text/event-stream", background=BackgroundTask(ticket.leave))
        try:
            return await _collect(engine, jobs, body, kind, prompt_tokens)
        finally:
            ticket.leave()

    def _check_limits(body: _Generation, prompts: list[list[int]], max_tokens: int, param: str) -> None:
        if body.model in exports and body.model not in pool.names():
            raise APIError(400, f"the model '{body.model}' answers {' and '.join(_routes(body.model))} only (a "
                           f"{exports[body.model].manifest.rung} export, not a LoRA-family or IA3 adapter)",
                           param="model", code="unsupported_route")
        if body.model not in pool.names():
            raise APIError(404, f"the model '{body.model}' does not exist; models here: {', '.join(pool.names())}",
                           param="model", code="model_not_found")
        if body.n > settings.max_n:
            raise APIError(400, f"n is {body.n}; this server answers at most {settings.max_n} per request",
                           param="n", code="invalid_value")
        if len(prompts) * body.n > settings.max_n:
            raise APIError(400, f"{len(prompts)} prompts x n={body.n} answers; at most {settings.max_n} per "
                           "request", param="prompt", code="invalid_value")
        if max_tokens > settings.max_tokens:
            raise APIError(400, f"max_tokens is {max_tokens}; this server allows at most {settings.max_tokens}",
                           param="max_tokens", code="invalid_value")
        longest = max(len(p) for p in prompts)
        context = getattr(pool.model.config, "max_position_embeddings", None)
        if longest > settings.max_prompt_tokens or (context and longest + max_tokens > context):
            limit = min(settings.max_prompt_tokens, context - max_tokens if context else settings.max_prompt_tokens)
            raise APIError(400, f"the prompt has {longest} tokens; at most {limit} fit with max_tokens "
                           f"{max_tokens}", param=param, code="context_length_exceeded")

    # ---- admin: load and unload adapters by name from the configured adapter folders

    @app.get("/admin/adapters", dependencies=guarded)
    async def adapters():
        return {"adapters": [{"name": n, "path": str(p)} for n, p in pool.paths.items()],
                "adapter_dirs": [str(d) for d in pool.adapter_dirs]}

    @app.post("/admin/adapters", dependencies=guarded)
    async def load(body: LoadRequest):
        try:
            path = await asyncio.to_thread(pool.add_from_dirs, body.name)
        except AdapterNotFound as err:
            raise APIError(404, str(err), param="name", code="adapter_not_found") from None
        except ServeError as err:
            raise APIError(400, str(err), param="name", code="invalid_adapter") from None
        return {"loaded": body.name, "path": str(path)}

    @app.delete("/admin/adapters/{name}", dependencies=guarded)
    async def unload(name: str):
        try:
            path = await asyncio.to_thread(pool.remove, name)
        except ServeError as err:
            raise APIError(404, str(err), param="name", code="adapter_not_found") from None
        return {"unloaded": name, "path": str(path)}

    return app


def _prediction_list(model: str, data: list[dict], predictions: list) -> dict:
    prompt_tokens = sum(p.prompt_tokens or 0 for p in predictions)
    return {"object": "list", "model": model, "data": data,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}


def _refuse_unsupported(body: _Body) -> None:
    for name, what in UNSUPPORTED.items():
        value = getattr(body, name, None)
        if value not in (None, False):
            raise APIError(400, f"{what} ({name}) are not supported by tunewise serve", param=name,
                           code="unsupported_parameter")


def _jobs(body: _Generation, prompts: list[list[int]], max_tokens: int) -> list[Job]:
    """n answers per prompt, prompt by prompt; a seed gives answer i the seed + i, so they differ but repeat."""
    stops = body.stops()
    return [Job(body.model, prompt, max_tokens, on_event=lambda e: None, temperature=body.temperature,
                top_p=body.top_p, seed=None if body.seed is None else body.seed + i, stop=stops)
            for prompt in prompts for i in range(body.n)]


async def _events(engine: Engine, jobs: list[Job], ticket: Ticket | None = None) -> AsyncIterator[
        tuple[int, Event]]:
    """(answer index, event) as the worker makes them, until every answer is final; cancels what is left when the
    consumer stops early (a client that went away)."""
    loop, queue = asyncio.get_running_loop(), asyncio.Queue()
    for index, job in enumerate(jobs):
        job.on_event = lambda event, index=index: loop.call_soon_threadsafe(queue.put_nowait, (index, event))
    engine.submit(jobs)
    open_ = len(jobs)
    try:
        while open_:
            index, event = await queue.get()
            open_ -= event.final
            yield index, event
    finally:
        for job in jobs:
            job.cancelled = True
        if ticket is not None:
            ticket.leave()


async def _collect(engine: Engine, jobs: list[Job], body: _Generation, kind: str, prompt_tokens: int) -> dict:
    texts, reasons, tokens = [""] * len(jobs), [None] * len(jobs), [0] * len(jobs)
    async for index, event in _events(engine, jobs):
        if event.error:
            raise APIError(500, f"generation failed: {event.error}", "server_error", code="generation_failed")
        texts[index] += event.text
        reasons[index], tokens[index] = event.finish_reason, event.completion_tokens
    choices = [_choice(kind, i, text, reason) for i, (text, reason) in enumerate(zip(texts, reasons))]
    return {**_header(body, kind, stream=False), "choices": choices,
            "usage": _usage(prompt_tokens, sum(tokens))}


async def _sse(events: AsyncIterator[tuple[int, Event]], body: _Generation, kind: str, answers: int,
               prompt_tokens: int) -> AsyncIterator[str]:
    """Server-sent events as OpenAI streams them: a first chunk with the role (chat), text deltas, a last chunk
    per answer with its finish_reason, usage when stream_options.include_usage, then [DONE]."""
    header = _header(body, kind, stream=True)
    if kind == "chat":
        for i in range(answers):
            yield _data({**header, "choices": [{"index": i, "delta": {"role": "assistant", "content": ""},
                                                 "finish_reason": None, "logprobs": None}]})
    tokens = [0] * answers
    async for index, event in events:
        if event.error:
            yield _data(APIError(500, f"generation failed: {event.error}", "server_error").body())
            return
        tokens[index] = event.completion_tokens
        if event.text or event.finish_reason:
            yield _data({**header, "choices": [_chunk_choice(kind, index, event)]})
    if body.stream_options and body.stream_options.include_usage:
        yield _data({**header, "choices": [], "usage": _usage(prompt_tokens, sum(tokens))})
    yield "data: [DONE]\n\n"


def _data(payload: dict) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _header(body: _Generation, kind: str, stream: bool) -> dict:
    prefix, obj = ("chatcmpl", "chat.completion") if kind == "chat" else ("cmpl", "text_completion")
    return {"id": f"{prefix}-{uuid.uuid4().hex[:24]}", "object": obj + (".chunk" if stream and kind == "chat" else ""),
            "created": int(time.time()), "model": body.model, "system_fingerprint": None}


def _choice(kind: str, index: int, text: str, reason: str | None) -> dict:
    if kind == "chat":
        return {"index": index, "message": {"role": "assistant", "content": text}, "finish_reason": reason,
                "logprobs": None}
    return {"index": index, "text": text, "finish_reason": reason, "logprobs": None}


def _chunk_choice(kind: str, index: int, event: Event) -> dict:
    if kind == "chat":
        delta = {"content": event.text} if event.text else {}
        return {"index": index, "delta": delta, "finish_reason": event.finish_reason, "logprobs": None}
    return {"index": index, "text": event.text, "finish_reason": event.finish_reason, "logprobs": None}


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}



