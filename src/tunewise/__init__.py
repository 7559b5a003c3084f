"""tunewise: should we fine-tune an LLM for this task, and how?

Runs prompting and fine-tuning rungs on the same held-out split and reports quality next to cost.
"""
__version__ = "0.1.0"
