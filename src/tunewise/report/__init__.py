"""The report: report.json (the record), report.md and the terminal table (views of it)."""
