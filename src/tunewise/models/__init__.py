"""Generative models and encoders: resolve a name, load (GGUF → safetensors cache), render prompts to ids.

`chat_template` is the single place where conversations become token ids.
"""
from tunewise.models.chat_template import (
    DEFAULT_SYSTEM,
    IGNORE_INDEX,
    answer_ids,
    encode_example,
    end_of_turn_id,
    prompt_ids,
    truncate_prompt,
)
from tunewise.models.load import (
    cached_model_dir,
    ensure_converted,
    list_models,
    load_causal_lm,
    load_encoder,
    load_tokenizer,
    tunewise_home,
)
from tunewise.models.resolve import (
    ModelSpec,
    resolve_encoder,
    resolve_model,
)

__all__ = [
    "DEFAULT_SYSTEM", "IGNORE_INDEX", "ModelSpec", "answer_ids", "cached_model_dir", "encode_example",
    "end_of_turn_id", "ensure_converted", "list_models", "load_causal_lm", "load_encoder", "load_tokenizer",
    "prompt_ids", "resolve_encoder", "resolve_model", "truncate_prompt", "tunewise_home",
]
