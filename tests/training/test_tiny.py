"""The offline tiny guide: loads with the Auto classes, has a working chat template and generates."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from exectune_rl.errors import ConfigError  # noqa: E402
from exectune_rl.training.tiny import TinyGuideSpec, build_tiny_guide, default_corpus  # noqa: E402


def test_loads_offline_with_auto_classes(tiny_model_path):
    tok = transformers.AutoTokenizer.from_pretrained(tiny_model_path)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_path)
    assert tok.pad_token == "<|pad|>" and tok.eos_token == "<|im_end|>"
    assert tok.padding_side == "left"
    assert model.config.vocab_size == len(tok)
    assert 300_000 < model.num_parameters() < 2_000_000


def test_strategy_tags_are_single_tokens_and_survive_decoding(tiny_model_path):
    # The format gate reads decoded text: the tags must come back intact after skip_special_tokens.
    tok = transformers.AutoTokenizer.from_pretrained(tiny_model_path)
    ids = tok("<strategy>\nprint(1)\n</strategy>")["input_ids"]
    assert tok.convert_tokens_to_ids("<strategy>") in ids
    assert tok.decode(ids, skip_special_tokens=True) == "<strategy>\nprint(1)\n</strategy>"


def test_chat_template_masks_only_the_assistant_turn(tiny_model_path):
    # SFT's assistant-only loss depends on the {% generation %} span covering the reply and its stop token.
    tok = transformers.AutoTokenizer.from_pretrained(tiny_model_path)
    msgs = [{"role": "user", "content": "How many apples?"}, {"role": "assistant", "content": "<strategy>x</strategy>"}]
    out = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    kept = [i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tok.decode(kept) == "<strategy>x</strategy><|im_end|>"
    prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


def test_left_padded_batch_generates(tiny_model_path):
    tok = transformers.AutoTokenizer.from_pretrained(tiny_model_path)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_path)
    enc = tok(["add", "count the apples and books"], padding=True, return_tensors="pt")
    assert enc["attention_mask"][0, 0].item() == 0  # left padding
    out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.shape == (2, enc["input_ids"].shape[1] + 4)


def test_same_seed_same_weights(tmp_path):
    spec = TinyGuideSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
    corpus = default_corpus(200)
    a = build_tiny_guide(tmp_path / "a", vocab_size=400, seed=3, corpus=corpus, spec=spec)
    b = build_tiny_guide(tmp_path / "b", vocab_size=400, seed=3, corpus=corpus, spec=spec)
    wa = transformers.AutoModelForCausalLM.from_pretrained(a).state_dict()
    wb = transformers.AutoModelForCausalLM.from_pretrained(b).state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_bad_sizes_are_named():
    with pytest.raises(ConfigError, match="vocab_size"):
        build_tiny_guide("/nonexistent-never-written", vocab_size=10)
    with pytest.raises(ConfigError, match="num_attention_heads"):
        TinyGuideSpec(hidden_size=30, num_attention_heads=4)
