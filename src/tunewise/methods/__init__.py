"""Fine-tuning methods, one module each: how a method changes the model and what it stores.

Most expose `apply(model, config) -> model` (only the method's parameters left trainable) and, where PEFT's
`save_pretrained` does not fit, `save`/`load`; ladder.methods_for turns them into rungs. A few are rungs of their
own because they do not train a causal LM on answers: features.py (frozen embeddings + logistic regression),
head.py (classification heads), and dapt.py (continued pretraining on raw text before LoRA).
Import the module you need (`tunewise.methods.lora`); this package imports nothing itself.
"""
