"""The decoding engine behind the server: one worker thread owns the model; answers wait in a queue and are
decoded together in batches, token by token, so a stream gets its text as it is made.

A batch is the oldest waiting answers (up to max_batch), left padded and decoded with a KV cache. With LoRA
adapters one batch mixes adapters (PEFT sends each row through its own adapter); with IA3 or DoRA a batch holds the
oldest answer's adapter only. No weights move when the adapter changes. Each answer has its own max_tokens, stop strings and sampling (temperature 0 = greedy, the ladder's
decoding); a row that has finished is fed padding until the batch ends.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from tunewise.evaluate.generate import stop_token_ids
from tunewise.evaluate.likelihood import cache_arg
from tunewise.models.forward import padded
from tunewise.serve.adapters import AdapterPool


@dataclass
class Event:
    """What the worker tells a request about one answer: new text, then (once) how it finished."""

    text: str = ""
    finish_reason: str | None = None  # "stop" (end of turn or a stop string) or "length" (max_tokens)
    completion_tokens: int = 0  # tokens generated so far
    error: str | None = None  # the answer failed (e.g. its adapter was unloaded while it waited)

    @property
    def final(self) -> bool:
        return self.finish_reason is not None or self.error is not None


@dataclass
class Job:
    """One answer to make."""

    adapter: str
    prompt: list[int]
    max_tokens: int
    on_event: Callable[[Event], None]  # called from the worker thread
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    cancelled: bool = False  # set by the request when its client went away: the row stops


class Engine:
    """The worker thread and its queue."""

    def __init__(self, pool: AdapterPool, max_batch: int):
        self.pool, self.max_batch = pool, max_batch
        self.stop_ids = stop_token_ids(pool.tokenizer)
        self._waiting: deque[Job] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="tunewise-decode", daemon=True)
        self.batches = 0  # batches decoded, for /health
        self.largest_batch = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        self._thread.join(timeout=30)

    def submit(self, jobs: list[Job]) -> None:
        """Queue answers; their events arrive through each job's on_event."""
        with self._wake:
            self._waiting.extend(jobs)
            self._wake.notify()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _serve(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                batch = self._take_batch()
            self._decode_safely(batch)

    def _take_batch(self) -> list[Job]:
        """The oldest waiting jobs in arrival order: any adapters when the pool mixes them in a batch (LoRA), else
        the oldest job's adapter only."""
        adapter = self._waiting[0].adapter
        batch = [j for j in self._waiting if (self.pool.mixes or j.adapter == adapter) and not j.cancelled]
        batch = batch[: self.max_batch]
        taken = {id(j) for j in batch}
        self._waiting = deque(j for j in self._waiting if id(j) not in taken and not j.cancelled)
        return batch

    def _decode_safely(self, batch: list[Job]) -> None:
        if not batch:
            return
        try:
            with self.pool.active([job.adapter for job in batch]) as (model, routing):
                self.batches += 1
                self.largest_batch = max(self.largest_batch, len(batch))
                decode(model, self.pool.tokenizer, batch, self.stop_ids, routing)
        except Exception as err:  # noqa: BLE001 -- one failed batch must not stop the server; its requests get the error
            for job in batch:
                job.on_event(Event(error=str(err)))


@dataclass
class _Row:
    """One answer being decoded: its tokens, how much of its text was sent, whether it is done."""

    job: Job
    tokenizer: object
    ids: list[int] = field(default_factory=list)
    sent: int = 0  # characters of the answer already sent
    done: bool = False
    generator: torch.Generator | None = None

    def add(self, token: int, stop_ids: list[int]) -> None:
        """Take the next token: send the text it completes, or finish the answer."""
        if token in stop_ids:
            return self._finish(self._text(), "stop")
        self.ids.append(token)
        text = self._text()
        cut = min((i for i in (text.find(s) for s in self.job.stop) if i >= 0), default=-1)
        if cut >= 0:
            return self._finish(text[:cut], "stop")
        if len(self.ids) >= self.job.max_tokens:
            return self._finish(text, "length")
        ready = _settled(text, self.job.stop)
        if ready > self.sent:
            self.job.on_event(Event(text=text[self.sent : ready], completion_tokens=len(self.ids)))
            self.sent = ready

    def _text(self) -> str:
        return self.tokenizer.decode(self.ids, skip_special_tokens=True)

    def _finish(self, text: str, reason: str) -> None:
        self.done = True
        self.job.on_event(Event(text=text[self.sent :], finish_reason=reason, completion_tokens=len(self.ids)))


def _settled(text: str, stops: tuple[str, ...]) -> int:
    """How much of `text` can be sent: not a trailing half of a multi-byte character (shown as U+FFFD), nor a tail
    that may still grow into a stop string."""
    end = len(text.rstrip("\ufffd"))
    for stop in stops:
        for size in range(min(len(stop) - 1, end), 0, -1):
            if text[:end].endswith(stop[:size]):
                end -= size
                break
    return end


def decode(model, tokenizer, jobs: list[Job], stop_ids: list[int], routing: dict | None = None) -> None:
    """Decode `jobs` as one batch on `model`, sending each its events as tokens come; `routing`: extra forward
    arguments (PEFT's adapter_names for a batch that mixes adapters). The weights are in the serving dtype already
    (bf16 like the ladder's predictions), so no autocast re-casts them every step."""
    routing = routing or {}
    device = next(model.parameters()).device
    rows = [_Row(job, tokenizer) for job in jobs]
    for row in rows:
        if row.job.seed is not None:
            row.generator = torch.Generator().manual_seed(row.job.seed)
    ids, mask = padded([j.prompt for j in jobs], "left", device, pad_id=stop_ids[0])  # (B, T) each
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: each row's tokens count from 0
    cache = {cache_arg(model.get_decoder()): DynamicCache()}  # the keyword, as evaluate.generate asks for it
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, **cache,
                       use_cache=True, logits_to_keep=1, **routing).logits[:, -1]  # (B, V)
        while True:
            tokens = [_next_token(logits[i], row) if not row.done else stop_ids[0] for i, row in enumerate(rows)]
            for row, token in zip(rows, tokens):
                if not row.done:
                    if row.job.cancelled:
                        row.done = True
                    else:
                        row.add(token, stop_ids)
            if all(row.done for row in rows):
                return
            step = torch.tensor(tokens, device=device)[:, None]  # (B, 1)
            mask = torch.cat([mask, torch.ones_like(step)], dim=1)
            positions = positions[:, -1:] + 1
            logits = model(input_ids=step, attention_mask=mask, position_ids=positions, **cache,
                           use_cache=True, logits_to_keep=1, **routing).logits[:, -1]


def _next_token(logits: torch.Tensor, row: _Row) -> int:
    """Greedy at temperature 0; else a draw from the temperature-scaled distribution cut to its top_p mass."""
    if row.job.temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.float().cpu() / row.job.temperature, dim=-1)
    if row.job.top_p < 1:
        ordered, order = probs.sort(descending=True)
        outside = ordered.cumsum(0) - ordered > row.job.top_p  # tokens after the top_p mass is reached
        probs[order[outside]] = 0
    return int(torch.multinomial(probs, 1, generator=row.generator))
