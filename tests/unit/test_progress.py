"""Progress: plain lines (rate, ETA, throttled, always a last line) outside a terminal, rich bars on one;
TUNEWISE_PROGRESS picks either."""
import pytest

from tunewise.progress import (
    PROGRESS_ENV,
    progress_printer,
    spinner,
    step_progress,
    use_bars,
)


@pytest.fixture
def lines(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "lines")


@pytest.fixture
def bars(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, "bars")


def test_progress_prints_first_throttles_and_always_prints_the_end(lines, capsys):
    report = progress_printer("rung x: predict", total=30, every_s=3600)
    for done in (10, 20, 30):
        report(done)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1  # 10 and 20 fall inside the throttle window; 30 is the end
    assert lines[0].startswith("[tunewise] rung x: predict: 30/30 examples (") and "ETA 0:00:00" in lines[0]


def test_progress_every_call_when_not_throttled(lines, capsys):
    report = progress_printer("train", total=4, unit="steps", every_s=0)
    for done in range(1, 5):
        report(done)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]


def test_bars_show_the_count_and_the_training_status(bars, capsys):
    report = progress_printer("rung x: predict", total=30)
    for done in (10, 20, 30):
        report(done)
    show = step_progress(4)
    show(1, "loss 2.5000  300 tok/s")
    show(4, "loss 0.5000  310 tok/s")
    err = capsys.readouterr().err
    assert "[tunewise] rung x: predict" in err and "30/30" in err
    assert "[tunewise] train" in err and "4/4" in err and "loss 0.5000  310 tok/s" in err


def test_training_prints_lines_itself_outside_a_terminal(lines):
    assert step_progress(10) is None


def test_the_choice_follows_the_terminal_unless_told(monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    assert use_bars() is False  # pytest captures stderr: not a terminal
    monkeypatch.setenv(PROGRESS_ENV, "bars")
    assert use_bars() is True


def test_spinner_says_what_and_how_long_in_lines(lines, capsys):
    with spinner("converting model.gguf"):
        pass
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "[tunewise] converting model.gguf ..." and err[1].startswith("[tunewise] converting model.gguf: done in")
