"""TransformersCore on a tiny Llama built locally (tokenizer trained with ``tokenizers``)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from exectune_rl.cores import CoreFailureKind, CoreRequest, OpenAICompatibleCore, TransformersCore  # noqa: E402
from exectune_rl.errors import ConfigError  # noqa: E402

# Lengths differ on purpose: a batch of these needs left padding.
PROMPTS = [
    "count the apples",
    "a",
    "write a program that prints the total number of books and pages left after each student reads",
    "the students",
    "plan: first add then divide the coins among the boxes",
    "x",
    "how many coins are left after each step",
    "sum",
    "every car has four wheels; how many wheels",
]


@pytest.fixture(scope="module")
def core(varied_model_path) -> TransformersCore:
    return TransformersCore(varied_model_path, batch_size=4, device="cpu")


@pytest.fixture(scope="module")
def one_by_one(varied_model_path) -> TransformersCore:
    return TransformersCore(varied_model_path, batch_size=1, device="cpu")


def test_greedy_batched_equals_one_by_one(core, one_by_one):
    reqs = [CoreRequest.from_prompt(p, max_tokens=20) for p in PROMPTS]
    batched = core.generate(reqs)
    single = one_by_one.generate(reqs)
    assert [b.text for b in batched] == [s.text for s in single]
    assert [b.completion_tokens for b in batched] == [s.completion_tokens for s in single]
    # the comparison means something only if the outputs are varied, not one token repeated
    assert len({b.text for b in batched}) == len(PROMPTS)
    assert all(len(set(b.text.split())) > 3 for b in batched)


def test_usage_and_finish_reason(core):
    reqs = [CoreRequest.from_prompt(p, max_tokens=12) for p in PROMPTS[:3]]
    out = core.generate(reqs)
    for req, resp in zip(reqs, out):
        assert resp.ok and resp.model == core.model
        assert resp.prompt_tokens == len(core.prompt_ids(req))  # padding is not counted
        assert 1 <= resp.completion_tokens <= 12
        assert resp.finish_reason in ("length", "stop")
        if resp.finish_reason == "length":
            assert resp.completion_tokens == 12


def test_mixed_sampling_parameters_keep_input_order(core, one_by_one):
    reqs = [CoreRequest.from_prompt(p, max_tokens=4 + 3 * (i % 3)) for i, p in enumerate(PROMPTS)]
    batched = core.generate(reqs)
    assert [b.text for b in batched] == [s.text for s in one_by_one.generate(reqs)]
    assert [b.completion_tokens <= r.max_tokens for b, r in zip(batched, reqs)] == [True] * len(reqs)


def test_stop_strings_cut_the_text(core):
    [full] = core.generate([CoreRequest.from_prompt(PROMPTS[0], max_tokens=20)])
    words = full.text.split()
    stop = words[len(words) // 2]
    [cut] = core.generate([CoreRequest.from_prompt(PROMPTS[0], max_tokens=20, stop=(stop,))])
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop"


def test_sampling_is_seeded_and_differs_from_greedy(core):
    sampler = TransformersCore(core.hf_model, core.tokenizer, batch_size=4, device="cpu", seed=3)
    reqs = [CoreRequest.from_prompt(p, max_tokens=12, temperature=1.5) for p in PROMPTS[:4]]
    a, b = sampler.generate(reqs), sampler.generate(reqs)  # the seed is reset before each batch
    greedy = core.generate([CoreRequest.from_prompt(p, max_tokens=12) for p in PROMPTS[:4]])
    assert [r.text for r in a] == [r.text for r in b]
    assert [r.text for r in a] != [r.text for r in greedy]


def test_too_long_prompt_is_a_bad_request_not_a_crash(core):
    limit = core.hf_model.config.max_position_embeddings
    reqs = [CoreRequest.from_prompt("a", max_tokens=limit + 1), CoreRequest.from_prompt("sum", max_tokens=3)]
    out = core.generate(reqs)
    assert out[0].error.kind is CoreFailureKind.BAD_REQUEST and not out[0].is_infra_failure
    assert out[1].ok and out[1].completion_tokens <= 3


def test_loaded_model_object_and_bad_batch_size(varied_model_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(varied_model_path)
    tok = AutoTokenizer.from_pretrained(varied_model_path)
    core = TransformersCore(model, tok, model_name="tiny", device="cpu")
    assert core.model == "tiny" and core.device == "cpu"
    assert core.generate([CoreRequest.from_prompt("x", max_tokens=3)])[0].ok
    with pytest.raises(ConfigError, match="batch_size"):
        TransformersCore(model, tok, batch_size=0)


def test_served_over_http_matches_direct_generation(core):
    """A TransformersCore behind the loopback server answers the same as called directly,
    with the micro-batcher grouping concurrent HTTP requests into batches."""
    pytest.importorskip("fastapi")
    from exectune_rl.cores.server import LoopbackServer, create_app

    reqs = [CoreRequest.from_prompt(p, max_tokens=8) for p in PROMPTS[:6]]
    direct = core.generate(reqs)
    with LoopbackServer(create_app(core, batch_window_s=0.05, max_batch=4)) as server:
        with OpenAICompatibleCore(core.model, base_url=server.base_url, max_concurrency=8) as client:
            served = client.generate(reqs)
    assert [s.text for s in served] == [d.text for d in direct]
    assert [s.prompt_tokens for s in served] == [d.prompt_tokens for d in direct]
    assert [s.completion_tokens for s in served] == [d.completion_tokens for d in direct]


@pytest.mark.gpu
def test_cuda_batched_equals_one_by_one(varied_model_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    reqs = [CoreRequest.from_prompt(p, max_tokens=20) for p in PROMPTS]
    batched = TransformersCore(varied_model_path, batch_size=8).generate(reqs)
    single = TransformersCore(varied_model_path, batch_size=1).generate(reqs)
    assert [b.text for b in batched] == [s.text for s in single]


def test_pickles_and_generates_the_same(core):
    import pickle

    reqs = [CoreRequest.from_prompt(p, max_tokens=8) for p in PROMPTS[:2]]
    clone = pickle.loads(pickle.dumps(core))
    assert [r.text for r in clone.generate(reqs)] == [r.text for r in core.generate(reqs)]
