"""A reward *model* adapter: the composite reward behind an ``nn.Module`` interface.

PPO-style trainers (and TRL's GRPOTrainer, which accepts ``nn.Module`` rewards) hand a reward
model tokenised prompt+completion text and read ``.logits`` of shape (batch, 1). This adapter
decodes the tokens, finds which dataset row the prompt belongs to (the task travels in that
row), cuts off the completion, scores it with :class:`~exectune_rl.rewards.ExecTuneReward`
and returns the rewards as logits. A row it cannot match, or an infrastructure failure,
gives NaN (TRL leaves NaN rewards out of its sums).

Importing this module imports torch: ``exectune_rl.rewards`` loads it only on first use.

Example:
    >>> adapter = RewardModelAdapter(reward, tokenizer, rows=train_rows)      # doctest: +SKIP
    >>> GRPOTrainer(model, reward_funcs=adapter, reward_processing_classes=tokenizer, ...)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from exectune_rl.errors import ConfigError, MissingDependencyError

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("torch", extra="train", purpose="the reward-model adapter") from exc

from exectune_rl.rewards.columns import rows_to_columns

__all__ = ["RewardModelAdapter", "RewardModelOutput"]

logger = logging.getLogger(__name__)


class RewardModelOutput:
    """What ``forward`` returns: ``.logits`` of shape (batch, 1); also indexable like a tuple."""

    def __init__(self, logits: "torch.Tensor") -> None:
        self.logits = logits

    def __getitem__(self, index: int) -> "torch.Tensor":
        return (self.logits,)[index]

    def __iter__(self) -> Any:
        return iter((self.logits,))


def _norm(text: str) -> str:
    # Decoding can change whitespace (spaces around special tokens, SentencePiece's marks):
    # matching on collapsed whitespace makes the prompt lookup robust to it.
    return " ".join(text.split())


def _after(text: str, key: str) -> str:
    """``text`` after its prefix ``key`` (``key`` is whitespace-collapsed; ``text`` is not).

    Newlines in the completion matter (fenced code), so the cut is made in the original text:
    after as many non-whitespace characters as the key holds.
    """
    need = sum(1 for c in key if not c.isspace())
    seen = 0
    for pos, c in enumerate(text):
        if seen == need:
            return text[pos:]
        if not c.isspace():
            seen += 1
    return ""


class RewardModelAdapter(nn.Module):
    """``nn.Module`` wrapper of a composite reward: token ids in, (batch, 1) reward logits out.

    Args:
        reward: The :class:`~exectune_rl.rewards.ExecTuneReward` to score with.
        tokenizer: The tokenizer that produced the ids (the policy's, usually).
        rows: Dataset rows: each has the prompt under ``prompt_key`` (a string, or chat
            messages rendered with the tokenizer's chat template) and the task columns.
        prompt_key: Column of ``rows`` holding the prompt.
        name: Reported as ``config._name_or_path`` (TRL names the reward after it).

    Example:
        >>> out = adapter(input_ids=ids, attention_mask=mask)    # doctest: +SKIP
        >>> out.logits.shape                                      # doctest: +SKIP
        torch.Size([4, 1])
    """

    def __init__(
        self,
        reward: Any,
        tokenizer: Any,
        rows: Sequence[Mapping[str, Any]],
        *,
        prompt_key: str = "prompt",
        name: str | None = None,
    ) -> None:
        super().__init__()
        if not callable(getattr(reward, "score", None)):
            raise ConfigError(f"reward must be an ExecTuneReward (with .score), got {type(reward).__name__}")
        self.reward = reward
        self.tokenizer = tokenizer
        self.prompt_key = prompt_key
        self.config = SimpleNamespace(_name_or_path=name or getattr(reward, "__name__", "exectune"))
        # A buffer gives the module a device: .to(device) works and outputs follow it.
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)
        self._index: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        self._prefix = 64
        self.add_rows(rows)

    def _render(self, prompt: Any) -> str:
        if isinstance(prompt, str):
            return prompt
        if isinstance(prompt, (list, tuple)):
            return self.tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
        raise ConfigError(f"row prompt must be a string or chat messages, got {type(prompt).__name__}")

    def add_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Index more dataset rows by their rendered prompt."""
        keyed = []
        for n, row in enumerate(rows):
            if self.prompt_key not in row:
                raise ConfigError(f"row {n} has no {self.prompt_key!r} column; columns: {sorted(row)}")
            keyed.append((_norm(self._render(row[self.prompt_key])), row))
        if not keyed and not self._index:
            raise ConfigError("RewardModelAdapter needs at least one dataset row")
        shortest = min(len(k) for k, _ in keyed) if keyed else self._prefix
        if shortest < self._prefix:  # re-key everything on the shorter prefix
            old = [item for items in self._index.values() for item in items]
            self._prefix, self._index = max(1, shortest), {}
            keyed = old + keyed
        for key, row in keyed:
            self._index.setdefault(key[: self._prefix], []).append((key, row))

    def match(self, text: str) -> tuple[Mapping[str, Any], str] | None:
        """The dataset row whose prompt starts ``text``, and the completion after it."""
        nt = _norm(text)
        best: tuple[str, Mapping[str, Any]] | None = None
        for key, row in self._index.get(nt[: self._prefix], ()):
            if nt.startswith(key) and (best is None or len(key) > len(best[0])):
                best = (key, row)
        if best is None:
            return None
        return best[1], _after(text, best[0])

    def forward(self, input_ids: "torch.Tensor", attention_mask: "torch.Tensor | None" = None, **_: Any) -> RewardModelOutput:
        """Score a batch of tokenised prompt+completion sequences.

        Args:
            input_ids: (batch, length) token ids (left or right padded).
            attention_mask: (batch, length) mask; None means no padding.

        Returns:
            :class:`RewardModelOutput` with ``logits`` of shape (batch, 1), float32, NaN where
            no reward could be given.
        """
        ids = input_ids.detach().cpu()
        mask = attention_mask.detach().cpu().bool() if attention_mask is not None else torch.ones_like(ids, dtype=torch.bool)
        values: list[float] = [math.nan] * ids.shape[0]
        matched: list[int] = []
        rows: list[Mapping[str, Any]] = []
        completions: list[str] = []
        for b in range(ids.shape[0]):
            text = self.tokenizer.decode(ids[b][mask[b]].tolist(), skip_special_tokens=False)
            hit = self.match(text)
            if hit is None:
                logger.warning("reward model: no dataset row matches a prompt (%r...); reward NaN", text[:60])
                continue
            matched.append(b)
            rows.append({k: v for k, v in hit[0].items() if k != self.prompt_key})
            completions.append(hit[1])
        if matched:
            records = self.reward.score(prompts=[""] * len(matched), completions=completions, **rows_to_columns(rows))
            for b, rec in zip(matched, records):
                if rec.reward is not None:
                    values[b] = float(rec.reward)
        logits = torch.tensor(values, dtype=torch.float32, device=self._anchor.device).unsqueeze(-1)
        return RewardModelOutput(logits)
