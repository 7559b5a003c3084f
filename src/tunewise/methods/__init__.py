"""Fine-tuning methods, one module each; every module exposes `apply(model, config) -> model`.

Import the module you need (`tunewise.methods.lora`); this package imports nothing itself.
"""
