"""A tiny guide model built entirely offline: a locally trained tokenizer plus a small Llama.

Tests, the synthetic end-to-end recipe and the GPU check need a real causal LM with a real
tokenizer, and nothing may come from a model hub. :func:`build_tiny_guide` trains a byte-level
BPE tokenizer with ``tokenizers`` on a small corpus, wraps it as a transformers fast tokenizer
(chat template with ``{% generation %}`` markers, pad token, left padding) and saves it next
to a randomly initialised ``LlamaForCausalLM`` of about a million parameters, so that
``AutoTokenizer.from_pretrained(path)`` and ``AutoModelForCausalLM.from_pretrained(path)``
work with no network.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from exectune_rl.errors import ConfigError, MissingDependencyError

__all__ = ["TinyGuideSpec", "build_tiny_guide", "CHAT_TEMPLATE", "SPECIAL_TOKENS", "STRATEGY_TOKENS"]

BOS, EOS, PAD, UNK = "<|bos|>", "<|im_end|>", "<|pad|>", "<|unk|>"
IM_START = "<|im_start|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, IM_START, EOS, UNK)
# Kept as single (non-special) tokens so a tiny model can learn the format cheaply and
# decoding with skip_special_tokens=True still keeps them in the text.
STRATEGY_TOKENS: tuple[str, ...] = ("<strategy>", "</strategy>")

# ChatML-style. The assistant turn, its end-of-turn token included, sits inside
# {% generation %} so TRL's assistant_only_loss trains the model to stop.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyGuideSpec:
    """Size of the tiny Llama. The defaults give roughly 0.7-1M parameters (tied embeddings), depending on the vocabulary."""

    hidden_size: int = 128
    intermediate_size: int = 320
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024

    def __post_init__(self) -> None:
        for name in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"TinyGuideSpec.{name} must be positive, got {getattr(self, name)!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads ({self.num_attention_heads})"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(
                f"num_attention_heads ({self.num_attention_heads}) must be divisible by "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )


_WORDS = (
    "the a an of to in and or is are was has have each every total how many much more less left "
    "apples books coins boxes cars students pages dollars cookies marbles tickets hours minutes "
    "buys sells gives gets eats reads spends saves shares splits among between twice half times "
    "plan strategy step first then next finally compute count add subtract multiply divide answer "
    "task problem solve write program print result value variable function return number list "
    "if else for while range len sum min max int float str def import math True False None"
).split()


def default_corpus(n_lines: int = 1500, seed: int = 0) -> list[str]:
    """A synthetic corpus covering words, digits, Python and the chat/strategy markup.

    Args:
        n_lines: Number of lines to generate.
        seed: Random seed; the corpus is a pure function of it.

    Returns:
        A list of text lines.

    Example:
        >>> len(default_corpus(10))
        10
    """
    rng = random.Random(seed)
    lines: list[str] = []
    for i in range(n_lines):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14)))
        a, b = rng.randint(0, 999), rng.randint(1, 99)
        op = rng.choice("+-*/")
        kind = i % 4
        if kind == 0:
            lines.append(f"{words.capitalize()} {a} {op} {b}?")
        elif kind == 1:
            lines.append(f"x = {a}\ny = {b}\nresult = x {op} y\nprint(result)")
        elif kind == 2:
            lines.append(f"<strategy>\n{words}\nanswer = {a} {op} {b}\nprint(answer)\n</strategy>")
        else:
            lines.append(f"{IM_START}user\n{words} {a}{EOS}\n{IM_START}assistant\n{words}{EOS}")
    return lines


def _train_tokenizer(corpus: Iterable[str], vocab_size: int):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def _wrap_tokenizer(raw, max_length: int):  # -> PreTrainedTokenizerFast
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        model_max_length=max_length,
    )
    tok.add_tokens(list(STRATEGY_TOKENS))
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _build_model(tokenizer, spec: TinyGuideSpec, seed: int):  # -> LlamaForCausalLM
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def build_tiny_guide(
    output_dir: str | Path,
    *,
    vocab_size: int = 2048,
    seed: int = 0,
    corpus: Iterable[str] | None = None,
    spec: TinyGuideSpec | None = None,
) -> Path:
    """Train a tokenizer and build a tiny causal LM, saved to ``output_dir``, all offline.

    Args:
        output_dir: Folder to write (created if needed). Afterwards it holds a tokenizer and a
            model loadable with ``AutoTokenizer`` / ``AutoModelForCausalLM.from_pretrained``.
        vocab_size: Target BPE vocabulary size (special and strategy tokens included).
        seed: Seeds the default corpus and the model's random initialisation.
        corpus: Text to train the tokenizer on; default :func:`default_corpus`. Include the
            text your task will show the model so common words become single tokens.
        spec: Model size; default :class:`TinyGuideSpec` (under 1M parameters).

    Returns:
        The output folder as a ``Path``.

    Raises:
        MissingDependencyError: torch, transformers or tokenizers are not installed.
        ConfigError: ``vocab_size`` is too small for the byte alphabet plus special tokens.

    Example:
        >>> path = build_tiny_guide("/tmp/tiny-guide")              # doctest: +SKIP
        >>> AutoModelForCausalLM.from_pretrained(path).num_parameters()  # doctest: +SKIP
        678656
    """
    if vocab_size < 256 + len(SPECIAL_TOKENS) + len(STRATEGY_TOKENS) + 16:
        raise ConfigError(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS) + len(STRATEGY_TOKENS) + 16}, got {vocab_size}")
    try:
        import tokenizers  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("torch/transformers/tokenizers", "train", "building the tiny guide") from exc
    spec = spec or TinyGuideSpec()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = list(corpus) if corpus is not None else default_corpus(seed=seed)
    if not lines:
        raise ConfigError("corpus is empty: give at least one line of text")
    tokenizer = _wrap_tokenizer(_train_tokenizer(lines, vocab_size - len(STRATEGY_TOKENS)), spec.max_position_embeddings)
    model = _build_model(tokenizer, spec, seed)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "exectune_tiny.json").write_text(
        json.dumps({"vocab_size": len(tokenizer), "seed": seed, "parameters": model.num_parameters(), **spec.__dict__}, indent=2)
    )
    return out
