"""``TransformersCore``: a local Hugging Face causal LM as the core, with batched generation.

This is the batched path for executing many strategies at once: requests with the same
sampling parameters are generated together, left-padded, on CUDA when it is present. Greedy
decoding gives the same text batched as one by one (prompts are sorted by length so batches
carry little padding, and positions follow the attention mask).

Needs the ``train`` extra (``torch``, ``transformers``); nothing is imported until a core is made.

Example:
    >>> core = TransformersCore("path/to/model", batch_size=16)               # doctest: +SKIP
    >>> core.generate([CoreRequest.from_prompt("2+2=", max_tokens=4)])[0].text  # doctest: +SKIP
    '4'
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from exectune_rl._pickling import TransientState
from exectune_rl.cores.base import Core, CoreFailureKind, CoreRequest, CoreResponse
from exectune_rl.errors import ConfigError, CoreError, MissingDependencyError

__all__ = ["TransformersCore", "pick_device"]

logger = logging.getLogger(__name__)


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("torch", "train", "TransformersCore") from exc
    return torch


def pick_device(device: str | None = None) -> str:
    """``device`` if given, else ``"cuda"`` when CUDA is available, else ``"cpu"``.

    Example:
        >>> pick_device("cpu")
        'cpu'
    """
    if device:
        return str(device)
    return "cuda" if _torch().cuda.is_available() else "cpu"


def _checked_source(model_or_path: str | os.PathLike[str]) -> str:
    """The model source as a string; a path-like source that does not exist is a ConfigError.

    Checked here so a mistyped folder fails at once instead of being looked up on the hub.
    """
    source = str(model_or_path)
    if not source.strip():
        raise ConfigError("TransformersCore needs a model folder or hub id, got an empty string")
    looks_local = isinstance(model_or_path, os.PathLike) or source.startswith(("/", "./", "../", "~"))
    if looks_local and not os.path.exists(os.path.expanduser(source)):
        raise ConfigError(f"TransformersCore model folder {source!r} does not exist")
    return os.path.expanduser(source) if looks_local else source


def _load(auto_class: Any, source: str, what: str, **kwargs: Any) -> Any:
    try:
        return auto_class.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:  # missing files, no network, an unknown architecture
        raise CoreError(f"cannot load the {what} of TransformersCore from {source!r}: {exc}") from exc


class TransformersCore(TransientState, Core):
    """A local causal LM that generates batches of chat requests.

    Args:
        model_or_path: A model folder / hub id (loaded with ``AutoModelForCausalLM``) or a
            loaded ``PreTrainedModel``.
        tokenizer: A tokenizer, or None to load it from ``model_or_path``.
        device: ``"cuda"``, ``"cuda:1"``, ``"cpu"``...; None picks CUDA when present.
        batch_size: Requests generated together.
        dtype: Torch dtype name for loading (``"bfloat16"``...); None keeps the checkpoint's.
        model_name: The name reported in responses (default: the path or the model's name).
        use_chat_template: Format messages with the tokenizer's chat template; None uses it
            when the tokenizer has one, else joins the message contents.
        seed: Seed for sampled (temperature > 0) generation, reset before each batch.

    Raises:
        ConfigError: a bad argument (a model folder that does not exist). CoreError: the model
            or tokenizer cannot be loaded. MissingDependencyError: torch/transformers missing.
    """

    def __init__(
        self,
        model_or_path: Any,
        tokenizer: Any = None,
        *,
        device: str | None = None,
        batch_size: int = 8,
        dtype: str | None = None,
        model_name: str | None = None,
        use_chat_template: bool | None = None,
        seed: int = 0,
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigError(f"TransformersCore batch_size must be a positive int, got {batch_size!r}")
        torch = _torch()
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise MissingDependencyError("transformers", "train", "TransformersCore") from exc
        self.device = pick_device(device)
        if isinstance(model_or_path, (str, os.PathLike)):
            kwargs: dict[str, Any] = {}
            if dtype is not None:
                if not isinstance(getattr(torch, dtype, None), torch.dtype):
                    raise ConfigError(f"dtype must name a torch dtype such as 'bfloat16', got {dtype!r}")
                kwargs["dtype"] = getattr(torch, dtype)
            name = _checked_source(model_or_path)
            model = _load(AutoModelForCausalLM, name, "model", **kwargs)
        else:
            model = model_or_path
            name = str(getattr(model, "name_or_path", "") or type(model).__name__)
        if tokenizer is None:
            tokenizer = _load(AutoTokenizer, name, "tokenizer")
        self.hf_model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise CoreError("the tokenizer has neither a pad nor an eos token; set tokenizer.pad_token first")
            self._pad_id = tokenizer.eos_token_id
        else:
            self._pad_id = tokenizer.pad_token_id
        self._eos_ids = self._eos_token_ids()
        self.batch_size = batch_size
        self.model = model_name or name
        self.use_chat_template = bool(getattr(tokenizer, "chat_template", None)) if use_chat_template is None else use_chat_template
        self.seed = seed
        self._lock = threading.Lock()
        self._max_positions = getattr(model.config, "max_position_embeddings", None)

    _transient = ("_lock",)

    def _init_transient(self) -> None:
        self._lock = threading.Lock()

    def _eos_token_ids(self) -> set[int]:
        ids: set[int] = set()
        gen_eos = getattr(getattr(self.hf_model, "generation_config", None), "eos_token_id", None)
        for value in (self.tokenizer.eos_token_id, gen_eos):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids.update(int(v) for v in value)
        return ids

    # -- prompts -----------------------------------------------------------------------
    def prompt_ids(self, request: CoreRequest) -> list[int]:
        """The token ids the model sees for a request."""
        if self.use_chat_template:
            text = self.tokenizer.apply_chat_template(list(request.messages), tokenize=False, add_generation_prompt=True)
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return list(self.tokenizer(request.prompt_text, add_special_tokens=True)["input_ids"])

    # -- generation --------------------------------------------------------------------
    def _generate_batch(self, prompts: list[list[int]], request: CoreRequest) -> list[list[int]]:
        """Generated ids per prompt, cut after the first end token."""
        torch = _torch()
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, ids in enumerate(prompts):  # left padding: generation continues every row at the right edge
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids) :] = 1
        sample = request.temperature > 0
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            "do_sample": sample,
            "pad_token_id": self._pad_id,
            "eos_token_id": sorted(self._eos_ids) or None,
        }
        if sample:
            gen_kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=0)
            torch.manual_seed(self.seed)
        else:  # neutral values, so a checkpoint's sampling defaults do not leak into greedy runs
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.hf_model.generate(
                input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device), **gen_kwargs
            )
        results = []
        for ids in out[:, width:].tolist():
            cut = next((k + 1 for k, t in enumerate(ids) if t in self._eos_ids), len(ids))
            results.append(ids[:cut])
        return results

    def _to_response(self, gen_ids: list[int], prompt_len: int, request: CoreRequest, latency: float) -> CoreResponse:
        ended = bool(gen_ids) and gen_ids[-1] in self._eos_ids
        text = self.tokenizer.decode(gen_ids[:-1] if ended else gen_ids, skip_special_tokens=True)
        finish = "stop" if ended else "length"
        for stop in request.stop:  # stop strings cut the text the way an API does
            at = text.find(stop)
            if stop and at >= 0:
                text, finish = text[:at], "stop"
        return CoreResponse(
            text=text, prompt_tokens=prompt_len, completion_tokens=len(gen_ids),
            latency_s=latency, model=self.model, finish_reason=finish,
        )  # fmt: skip

    def _run_chunk(self, chunk: list[tuple[int, list[int]]], request: CoreRequest, out: list[CoreResponse | None]) -> None:
        torch = _torch()
        start = time.perf_counter()
        try:
            generated = self._generate_batch([ids for _, ids in chunk], request)
        except torch.cuda.OutOfMemoryError:
            if len(chunk) == 1:
                out[chunk[0][0]] = CoreResponse.failure(CoreFailureKind.INTERNAL, "CUDA out of memory for one request", model=self.model)
                return
            torch.cuda.empty_cache()  # halve the batch and go on: a big batch must not lose results
            half = len(chunk) // 2
            self._run_chunk(chunk[:half], request, out)
            self._run_chunk(chunk[half:], request, out)
            return
        except Exception as exc:  # a model failure is the infrastructure's, reported per request
            logger.exception("generation failed for a batch of %d", len(chunk))
            for i, _ in chunk:
                out[i] = CoreResponse.failure(CoreFailureKind.INTERNAL, f"{type(exc).__name__}: {exc}", model=self.model)
            return
        latency = time.perf_counter() - start
        for (i, prompt), gen_ids in zip(chunk, generated):
            out[i] = self._to_response(gen_ids, len(prompt), request, latency)

    def _prepare(self, requests: Sequence[CoreRequest], out: list[CoreResponse | None]) -> dict[tuple[Any, ...], list[tuple[int, list[int]]]]:
        groups: dict[tuple[Any, ...], list[tuple[int, list[int]]]] = {}
        for i, req in enumerate(requests):
            try:
                ids = self.prompt_ids(req)
            except Exception as exc:
                out[i] = CoreResponse.failure(CoreFailureKind.BAD_REQUEST, f"cannot format the prompt: {exc}", model=self.model)
                continue
            if self._max_positions and len(ids) + req.max_tokens > self._max_positions:
                out[i] = CoreResponse.failure(
                    CoreFailureKind.BAD_REQUEST,
                    f"prompt of {len(ids)} tokens + max_tokens {req.max_tokens} exceeds the model's "
                    f"{self._max_positions} positions",
                    model=self.model,
                )
                continue
            key = (req.temperature, req.top_p, req.max_tokens, req.stop)
            groups.setdefault(key, []).append((i, ids))
        return groups

    def generate(self, requests: Sequence[CoreRequest]) -> list[CoreResponse]:
        """Generate every request, batched by sampling parameters; responses in input order."""
        requests = list(requests)
        out: list[CoreResponse | None] = [None] * len(requests)
        with self._lock:  # one generate at a time: the model and its device are shared
            for items in self._prepare(requests, out).values():
                # Similar lengths together: less padding, and batches of one length pad nothing.
                items.sort(key=lambda item: len(item[1]))
                first = requests[items[0][0]]
                for k in range(0, len(items), self.batch_size):
                    self._run_chunk(items[k : k + self.batch_size], first, out)
        # Every slot is filled by construction; a hole would lose a result, so it becomes a failure.
        return [r or CoreResponse.failure(CoreFailureKind.INTERNAL, "no response produced", model=self.model) for r in out]

    def close(self) -> None:
        """Free the accelerator memory this core holds. Idempotent."""
        torch = _torch()
        if self.device.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def __repr__(self) -> str:
        return f"TransformersCore(model={self.model!r}, device={self.device!r}, batch_size={self.batch_size})"


