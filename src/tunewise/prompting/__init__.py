"""Prompting rungs' building blocks: message templates and demonstration selection."""
