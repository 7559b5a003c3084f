"""The server's settings: where it listens, who may call it, and the limits that keep one process answering.

Every limit answers with an OpenAI-style error instead of queueing or growing without bound.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

API_KEY_ENV = "TUNEWISE_API_KEY"  # read when --api-key is not given


class ServeSettings(BaseModel):
    """`tunewise serve` options (the CLI flags carry the same names with dashes)."""

    model_config = ConfigDict(extra="forbid")

    sources: list[str] = Field([], description="run folders, adapter folders or NAME=ADAPTER_FOLDER to serve")
    base: str | None = Field(None, description="the base model (default: the first run's model, else the first "
                             "adapter's base_model_name_or_path)")
    adapter_dirs: list[Path] = Field([], description="folders the admin route may load adapters from, by name")
    host: str = Field("127.0.0.1", description="address to listen on; other than loopback only with an API key")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port, printed at start)")
    api_key: str | None = Field(None, description=f"required as 'Authorization: Bearer KEY' on every route but "
                                f"/health (default: ${API_KEY_ENV}; unset: no key)")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest request body; larger ones get 413")
    max_tokens: int = Field(512, ge=1, description="most tokens one answer may have (max_tokens above: 400); also "
                            "a chat request's default")
    max_n: int = Field(4, ge=1, description="most answers per request (n above: 400)")
    max_prompt_tokens: int = Field(2048, ge=1, description="longest prompt in tokens (longer: 400)")
    max_concurrent: int = Field(16, ge=1, description="requests being answered or waiting at once; more get 429")
    max_batch: int = Field(8, ge=1, description="most answers decoded together in one batch (same adapter)")
    max_inputs: int = Field(64, ge=1, description="most inputs one /v1/predict or /v1/classify request may hold "
                            "(more: 400)")
    precision: Literal["bf16", "fp32"] = Field("bf16", description="weights' dtype while serving (bf16, as the "
                                               "ladder predicts, or fp32)")

    def is_loopback(self) -> bool:
        """Whether the server listens only to this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
