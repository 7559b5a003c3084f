"""The training loop and its parts: batching, answer-only loss, schedule, checkpoints.

Import from the submodules (`tunewise.train.loop.train`, `tunewise.train.batching.Encoded`); this package
imports nothing itself, so reading `Encoded` does not load accelerate.
"""
