"""`tunewise serve` as a user runs it: a live server (the CLI in a subprocess, 127.0.0.1, a free port) over the tiny
llama with two LoRA adapters trained to give different answers plus a finished run's LoRA, called with the official
`openai` client: adapters answer as they were trained and as the ladder's decoder does, streams equal whole
answers, batches equal single requests, and the limits answer 401 / 413 / 400 / 404 / 429 with OpenAI's error
object while /health stays up.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
import torch
from conftest import build_tiny_llama, write_tiny_run_config
from peft import LoraConfig, get_peft_model

from tunewise import api
from tunewise.config import load_config
from tunewise.evaluate.generate import generate
from tunewise.models.adapted import write_base_record
from tunewise.models.chat_template import answer_ids, prompt_ids
from tunewise.models.load import load_causal_lm
from tunewise.serve import ServeSettings, start
from tunewise.serve.adapters import (
    AdapterPool,
    ServeError,
    name_problem,
    resolve_sources,
)
from tunewise.serve.engine import Engine, Job

KEY = "test-key"
QUESTION = "What is the capital of France?"
ANSWERS = {"alpha": "billing", "beta": "the app crashes"}  # what each adapter is trained to say


def train_adapter(model_dir: Path, tokenizer, answer: str, out: Path) -> Path:
    """A LoRA on the tiny llama trained until it answers QUESTION with `answer`."""
    model, _ = load_causal_lm(str(model_dir))
    torch.manual_seed(0)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"]))
    prompt = prompt_ids(tokenizer, [{"role": "user", "content": QUESTION}])
    target = answer_ids(tokenizer, answer)
    ids = torch.tensor([prompt + target])
    labels = torch.tensor([[-100] * len(prompt) + target])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    model.train()
    for _ in range(60):
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    write_base_record(out, model, tokenizer)
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_tokenizer):
    """(model_dir, adapters {name: folder}, adapter_dir for the admin route, a finished tiny run)."""
    folder = tmp_path_factory.mktemp("serve")
    model_dir = folder / "tiny-model"
    model = build_tiny_llama(len(tiny_tokenizer))
    with torch.no_grad():  # <|im_end|> is the pad id, whose embedding starts at zero: give it one so answers can end
        model.get_input_embeddings().weight[tiny_tokenizer.pad_token_id].normal_(0, 0.02)
    model.save_pretrained(model_dir)
    tiny_tokenizer.save_pretrained(model_dir)
    adapters = {name: train_adapter(model_dir, tiny_tokenizer, answer, folder / name)
                for name, answer in ANSWERS.items()}
    library = folder / "library"
    library.mkdir()
    train_adapter(model_dir, tiny_tokenizer, "paris", library / "gamma")
    (library / "escape").symlink_to(adapters["alpha"], target_is_directory=True)  # points out of the folder
    config = load_config(write_tiny_run_config(folder, model_dir, "{lr: 5.0e-3, max_steps: 4, batch_size: 8, "
                                               "precision: fp32}"))
    run = api.run(config.model_copy(update={"methods": ["lora", "prompt_tuning"]}), log=lambda m: None)
    return model_dir, adapters, library, run.run_dir


@pytest.fixture(scope="module")
def server(setup):
    """The CLI serving the run and both adapters on a free port: (base_url, stdout lines so far)."""
    model_dir, adapters, library, run_dir = setup
    command = [sys.executable, "-m", "tunewise.cli", "serve", str(run_dir),
               *(f"{name}={path}" for name, path in adapters.items()), "--base", str(model_dir), "--port", "0",
               "--api-key", KEY, "--adapter-dir", str(library), "--max-concurrent", "2", "--max-tokens", "48",
               "--max-n", "2", "--max-prompt-tokens", "200", "--max-body-bytes", "20000", "--precision", "fp32"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "serving" in line and "http://" in line:
                break
        else:
            pytest.fail("server exited:\n" + "".join(lines))
        url = line.split("at ")[1].split()[0]  # http://127.0.0.1:PORT/v1
        threading.Thread(target=lambda: [lines.append(x) for x in process.stdout], daemon=True).start()
        yield url, lines
    finally:
        process.terminate()
        process.wait(timeout=30)


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=60)


def http(method: str, url: str, body: dict | None = None, key: str | None = KEY) -> tuple[int, dict]:
    """(status, JSON reply) of a raw request, for what the openai client does not expose."""
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def ask(url: str, model: str, question: str = QUESTION, **kwargs) -> str:
    reply = client(url).chat.completions.create(model=model, messages=[{"role": "user", "content": question}],
                                                **kwargs)
    return reply.choices[0].message.content


def test_models_lists_the_base_the_runs_lora_and_both_adapters(server):
    url, lines = server
    names = [m.id for m in client(url).models.list().data]
    assert names == ["base", "lora", "alpha", "beta"]
    log = "".join(lines)
    assert "rung prompt_tuning not served: a PROMPT_TUNING adapter" in log  # said why, not silently dropped
    assert "127.0.0.1" in url


def test_each_adapter_gives_its_own_answer_and_the_ladders_decoding(server, setup, tiny_tokenizer):
    url, _ = server
    model_dir = setup[0]
    assert ask(url, "alpha") == ANSWERS["alpha"]
    assert ask(url, "beta") == ANSWERS["beta"]
    base = ask(url, "base", max_tokens=12)
    assert base not in ANSWERS.values()
    model, tokenizer = load_causal_lm(str(model_dir))
    prompt = prompt_ids(tokenizer, [{"role": "user", "content": QUESTION}])
    assert base.strip() == generate(model, tokenizer, [prompt], 12, precision="fp32")[0]  # as the ladder decodes


def test_stream_sends_the_same_answer_in_pieces(server):
    url, _ = server
    whole = ask(url, "beta")
    stream = client(url).chat.completions.create(
        model="beta", messages=[{"role": "user", "content": QUESTION}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == whole
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens > len(pieces) - 1 and chunks[-1].usage.prompt_tokens > 0


def test_text_completions_batch_prompts_and_stop_at_max_tokens(server, setup):
    url, _ = server
    prompts = ["The app crashes when I open", "My invoice is wrong and I was charged twice for the"]
    alone = [client(url).completions.create(model="base", prompt=p, max_tokens=6).choices[0] for p in prompts]
    together = client(url).completions.create(model="base", prompt=prompts, max_tokens=6)
    assert [c.text for c in together.choices] == [c.text for c in alone]  # left padding changes nothing
    model, tokenizer = load_causal_lm(str(setup[0]))
    ids = tokenizer(prompts[0], return_tensors="pt").input_ids
    expected = model.generate(ids, max_new_tokens=6, do_sample=False)[0, ids.shape[1]:]
    assert alone[0].text == tokenizer.decode(expected, skip_special_tokens=True)  # transformers' greedy decoding
    assert {c.finish_reason for c in together.choices} == {"length"}
    assert http("GET", url.removesuffix("/v1") + "/health")[1]["largest_batch"] >= 2


def test_sampling_with_a_seed_repeats(server):
    url, _ = server
    first, again = (ask(url, "base", max_tokens=10, temperature=1.5, seed=7) for _ in range(2))
    assert first == again
    assert first != ask(url, "base", max_tokens=10)  # not greedy


def test_a_wrong_or_missing_key_is_401_but_health_is_open(server):
    url, _ = server
    with pytest.raises(openai.AuthenticationError) as wrong:
        client(url, key="nope").models.list()
    assert wrong.value.status_code == 401 and wrong.value.body["code"] == "invalid_api_key"
    assert http("GET", url + "/models", key=None)[0] == 401
    assert http("GET", url.removesuffix("/v1") + "/health", key=None)[1]["status"] == "ok"


def test_a_body_over_the_limit_is_413(server):
    url, _ = server
    status, reply = http("POST", url + "/chat/completions",
                         {"model": "base", "messages": [{"role": "user", "content": "x" * 30_000}]})
    assert status == 413 and set(reply["error"]) == {"message", "type", "param", "code"}
    with pytest.raises(openai.APIStatusError) as err:  # the client sees it too
        ask(url, "base", question="y" * 30_000)
    assert err.value.status_code == 413


@pytest.mark.parametrize(("kwargs", "param", "code"), [
    ({"max_tokens": 49}, "max_tokens", "invalid_value"),
    ({"n": 3}, "n", "invalid_value"),
    ({"question": "the app crashes " * 60}, "messages", "context_length_exceeded"),
    ({"temperature": 3}, "temperature", "invalid_value"),
])
def test_over_a_cap_is_400_with_an_error_object(server, kwargs, param, code):
    url, _ = server
    with pytest.raises(openai.BadRequestError) as err:
        ask(url, "alpha", **kwargs)
    assert err.value.body["param"] == param and err.value.body["code"] == code
    assert err.value.body["type"] == "invalid_request_error" and err.value.body["message"]


def test_an_unknown_model_is_404_naming_the_models(server):
    url, _ = server
    with pytest.raises(openai.NotFoundError) as err:
        ask(url, "delta")
    assert err.value.body["code"] == "model_not_found" and "alpha" in err.value.body["message"]


def test_admin_loads_by_name_from_the_adapter_dir_only(server):
    url, _ = server
    admin = url.removesuffix("/v1") + "/admin/adapters"
    for name in ("../alpha", "a/b", "..", "x\\y"):
        status, reply = http("POST", admin, {"name": name})
        assert status == 400 and "path separators" in reply["error"]["message"]
    assert http("POST", admin, {"name": "escape"})[0] == 404  # a symlink out of the folder does not count
    assert http("POST", admin, {"name": "missing"})[0] == 404
    assert http("POST", admin, {"name": "gamma"}, key=None)[0] == 401
    assert http("POST", admin, {"name": "gamma"})[0] == 200
    assert ask(url, "gamma") == "paris"
    assert ask(url, "alpha") == ANSWERS["alpha"]  # the others are still there
    assert http("DELETE", admin + "/gamma")[0] == 200
    with pytest.raises(openai.NotFoundError):
        ask(url, "gamma")
    assert http("DELETE", admin + "/gamma")[0] == 404


def test_a_burst_over_the_limit_gets_429_while_health_answers(server):
    url, _ = server
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def request():
        start.wait()
        try:
            ask(url, "base", max_tokens=48, question=QUESTION + " Tell me more.")
            outcomes.append("ok")
        except openai.RateLimitError as err:
            assert err.body["type"] == "rate_limit_error"
            outcomes.append("429")

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    health = []
    while any(t.is_alive() for t in threads):
        began = time.monotonic()
        health.append((http("GET", url.removesuffix("/v1") + "/health", key=None)[0], time.monotonic() - began))
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == ["429", "ok"] and len(outcomes) == 8
    assert health and all(status == 200 and seconds < 5 for status, seconds in health)
    assert ask(url, "alpha") == ANSWERS["alpha"]  # nothing stuck afterwards: every place was given back


# ---------------------------------------------------------------- the engine without HTTP


def answers(engine: Engine, jobs: list[tuple[str, str]]) -> list[str]:
    """Each (adapter, question)'s answer, all queued at once so the worker sees them together."""
    texts, done = [""] * len(jobs), threading.Semaphore(0)

    def collect(i: int, event) -> None:
        texts[i] += event.text
        if event.final:
            done.release()

    tokenizer = engine.pool.tokenizer
    engine.submit([Job(adapter, prompt_ids(tokenizer, [{"role": "user", "content": q}]), 12,
                       on_event=lambda e, i=i: collect(i, e)) for i, (adapter, q) in enumerate(jobs)])
    for _ in jobs:
        assert done.acquire(timeout=60)
    return texts


def test_one_batch_mixes_lora_adapters_and_answers_as_each_alone(setup, tiny_tokenizer, tmp_path):
    model_dir, adapters, _, _ = setup
    pool = AdapterPool(str(model_dir), [], torch.float32, log=lambda m: None)
    for name, path in adapters.items():
        pool.add(name, path)
    engine = Engine(pool, max_batch=8)
    engine.start()
    try:
        jobs = [("alpha", QUESTION), ("beta", QUESTION), ("base", QUESTION), ("alpha", "The app crashes."),
                ("beta", "My invoice is wrong.")]
        alone = [answers(engine, [job])[0] for job in jobs]
        assert engine.batches == len(jobs)
        assert answers(engine, jobs) == alone
        assert engine.batches == len(jobs) + 1 and engine.largest_batch == len(jobs)  # one batch, three models
        assert alone[:2] == [ANSWERS["alpha"], ANSWERS["beta"]]
        # DoRA adapters cannot share a batch (PEFT refuses): each batch then holds one adapter's answers
        base, _ = load_causal_lm(str(model_dir))
        torch.manual_seed(1)
        dora = get_peft_model(base, LoraConfig(r=4, use_dora=True, target_modules=["q_proj"], init_lora_weights=False))
        dora.save_pretrained(tmp_path / "dora")
        pool.add("dora", tmp_path / "dora")
        before = engine.batches
        assert answers(engine, [("alpha", QUESTION), ("dora", QUESTION), ("alpha", QUESTION)])[::2] == [
            ANSWERS["alpha"]] * 2
        assert engine.batches - before == 2  # [alpha, alpha], then [dora]
    finally:
        engine.stop()


# ---------------------------------------------------------------- refusals before anything loads


def test_sources_that_cannot_be_served_are_all_named(setup, tmp_path):
    _, adapters, _, run_dir = setup
    prompt_tuning = run_dir / "rungs" / "prompt_tuning" / "adapter"
    with pytest.raises(ServeError) as err:
        resolve_sources([str(prompt_tuning), f"../x={adapters['alpha']}", str(tmp_path), f"alpha={adapters['beta']}",
                         str(adapters["alpha"])], log=lambda m: None)
    message = str(err.value)
    assert "PROMPT_TUNING adapter" in message and "../x=" in message and "path separators" in message
    assert "not a run folder" in message
    assert "adapter name 'alpha' comes from" in message  # two sources, one name


def test_names_are_checked():
    assert name_problem("lora-tickets.v2") is None
    assert all(name_problem(n) for n in ("base", "..", "a/b", "-x", "", "x" * 65, "a b"))


def test_listening_beyond_loopback_needs_a_key(setup):
    with pytest.raises(ServeError, match="--api-key"):
        start(ServeSettings(sources=[str(setup[1]["alpha"])], host="0.0.0.0"))


def test_the_cli_reports_a_bad_source_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tunewise.cli", "serve", str(tmp_path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2 and "not a run folder" in done.stderr and "Traceback" not in done.stderr



def test_a_multi_task_runs_single_task_loras_are_served_by_task(setup, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(setup[3], run_dir)
    shutil.copytree(setup[1]["alpha"], run_dir / "tasks" / "size" / "lora" / "adapter")  # where the ladder puts them
    adapters = resolve_sources([str(run_dir)], log=lambda m: None).adapters
    assert [a.name for a in adapters] == ["lora", "lora-size"]
    assert adapters[1].path == run_dir / "tasks" / "size" / "lora" / "adapter"
