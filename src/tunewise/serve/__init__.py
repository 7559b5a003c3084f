"""`tunewise serve`: one base model and many adapters behind an OpenAI-compatible API (FastAPI + uvicorn), and
export folders of any rung kind on /v1/predict and /v1/classify.

settings.py holds the options and limits, adapters.py the base model, its named adapters and the sources, engine.py
the batching decoder thread, app.py the HTTP routes; export.package restores an export.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable

from tunewise.serve.settings import API_KEY_ENV, ServeSettings

__all__ = ["ServeSettings", "serve", "start"]


def start(settings: ServeSettings, log: Callable[[str], None] = print):
    """(app, engine, pool): the base and the adapters loaded, the decoder thread running. Every source problem is
    reported before any model loads."""
    # Imported here: torch and FastAPI load only when a server starts, not for `tunewise --help`.
    import torch

    from tunewise.export.package import load_export
    from tunewise.serve.adapters import (
        AdapterPool,
        ServeError,
        base_of,
        resolve_sources,
    )
    from tunewise.serve.app import create_app
    from tunewise.serve.engine import Engine

    if settings.api_key is None and os.environ.get(API_KEY_ENV):
        settings = settings.model_copy(update={"api_key": os.environ[API_KEY_ENV]})
    if not settings.is_loopback() and not settings.api_key:
        raise ServeError(f"--host {settings.host} lets other machines in: pass --api-key KEY (or set {API_KEY_ENV}), "
                         "or keep the default 127.0.0.1")
    missing = [str(d) for d in settings.adapter_dirs if not d.is_dir()]
    if missing:
        raise ServeError(f"--adapter-dir: not a folder: {', '.join(missing)}")
    sources = resolve_sources(settings.sources, log)
    base = base_of(settings.base, sources.base, sources.adapters)
    log(f"[tunewise] loading {base}")
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[settings.precision]
    pool = AdapterPool(base, settings.adapter_dirs, dtype, log)
    for adapter in sources.adapters:
        pool.add(adapter.name, adapter.path)
        log(f"[tunewise] adapter {adapter.name}: {adapter.path}")
    exports = {}
    for source in sources.exports:
        log(f"[tunewise] loading export {source.name}: {source.path}")
        exports[source.name] = load_export(source.path)
        routes = "/v1/predict and /v1/classify" if exports[source.name].classifies else "/v1/predict"
        log(f"[tunewise] export {source.name} answers {routes}")
    engine = Engine(pool, settings.max_batch)
    engine.start()
    return create_app(pool, engine, settings, exports), engine, pool


def serve(settings: ServeSettings, log: Callable[[str], None] = print) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""
    import uvicorn

    from tunewise.serve.adapters import ServeError

    app, engine, pool = start(settings, log)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    # Bound here, not by uvicorn, so port 0 works and the address printed is the one listening. Listening before
    # the line is printed: a client that connects as soon as it reads the address waits in the backlog until
    # uvicorn accepts, instead of being refused.
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
        sock.listen(config.backlog)
    except OSError as err:
        raise ServeError(f"cannot listen on {settings.host}:{settings.port}: {err.strerror}") from None
    host, port = sock.getsockname()[:2]
    key = "API key required" if settings.api_key else "no API key (loopback only)"
    log(f"[tunewise] serving {', '.join(pool.names())} at http://{host}:{port}/v1 ({key}); Ctrl-C stops")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        engine.stop()
