"""How sizes and counts read in every table (report, terminal, registry); free of torch."""
from __future__ import annotations


def size_text(n: float | None) -> str:
    """Bytes as B / KB / MB / GB (powers of 1000); '-' for unknown."""
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def count_text(n: int | None) -> str:
    """A parameter count as 4.88M / 12.3K / 512; '-' for unknown."""
    if n is None:
        return "-"
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}K"
    return str(n)
