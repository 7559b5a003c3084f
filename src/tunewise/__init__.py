"""tunewise: should we fine-tune an LLM for this task, and how?"""
