"""Progress lines: rate and ETA, throttled, and always a final line."""
from tunewise.progress import progress_printer


def test_progress_prints_first_throttles_and_always_prints_the_end(capsys):
    report = progress_printer("rung x: predict", total=30, every_s=3600)
    for done in (10, 20, 30):
        report(done)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1  # 10 and 20 fall inside the throttle window; 30 is the end
    assert lines[0].startswith("[tunewise] rung x: predict: 30/30 examples (") and "ETA 0:00:00" in lines[0]


def test_progress_every_call_when_not_throttled(capsys):
    report = progress_printer("train", total=4, unit="steps", every_s=0)
    for done in range(1, 5):
        report(done)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
