"""Money for tokens: a user-supplied price table first, then the ``genai-prices`` table.

An unknown model costs ``None`` ("we do not know"), never 0: a zero would make an unpriced
core look free and bias any cost-sensitive reward towards it.

Example:
    >>> estimate_cost_usd("gpt-4o-mini", 1_000_000, 0)
    0.15
    >>> estimate_cost_usd("my-local-model", 100, 10) is None
    True
    >>> estimate_cost_usd("my-local-model", 1_000_000, 1_000_000, table={"my-local-model": (1.0, 2.0)})
    3.0
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from exectune_rl.errors import ConfigError

__all__ = ["ModelPrice", "PriceTable", "estimate_cost_usd", "genai_prices_lookup"]

logger = logging.getLogger(__name__)

_MTOK = 1_000_000


@dataclass(frozen=True)
class ModelPrice:
    """Prices of one model in US dollars per million tokens.

    Args:
        input_per_mtok: Price of a million prompt tokens.
        output_per_mtok: Price of a million completion tokens.
    """

    input_per_mtok: float
    output_per_mtok: float

    def __post_init__(self) -> None:
        for name in ("input_per_mtok", "output_per_mtok"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"ModelPrice.{name} must be a finite non-negative number, got {value!r}")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for the given usage."""
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / _MTOK

    @classmethod
    def coerce(cls, model: str, value: Any) -> "ModelPrice":
        """Accept a ``ModelPrice``, a number (same price in and out), ``(in, out)`` or a mapping.

        Mappings take ``input``/``output`` (or ``input_per_mtok``/``output_per_mtok``).
        """
        if isinstance(value, ModelPrice):
            return value
        pair: Any = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            pair = (value, value)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            pair = tuple(value)
        elif isinstance(value, Mapping):
            keys = (("input_per_mtok", "output_per_mtok"), ("input", "output"))
            pair = next(((value[i], value[o]) for i, o in keys if i in value and o in value), None)
        if pair is not None:
            try:
                return cls(*(float(v) if isinstance(v, (int, float, str)) and not isinstance(v, bool) else v for v in pair))
            except ValueError as exc:  # float("abc"), or ModelPrice's own check
                raise ConfigError(f"price for model {model!r} must be finite non-negative dollars per million tokens, got {value!r} ({exc})") from exc
        raise ConfigError(
            f"price for model {model!r} must be a number, (input, output) per million tokens, "
            f"or a mapping with 'input' and 'output'; got {value!r}"
        )


@dataclass(frozen=True)
class PriceTable:
    """A user-supplied price table, consulted before ``genai-prices``.

    Args:
        prices: Model name -> price (``ModelPrice``, a number, ``(in, out)`` or a mapping),
            in dollars per million tokens. Names match exactly, then case-insensitively.
        use_genai_prices: Fall back to the ``genai-prices`` table for models not listed here.

    Example:
        >>> table = PriceTable({"local-core": 0, "teacher": (3.0, 15.0)}, use_genai_prices=False)
        >>> table.lookup("teacher").output_per_mtok
        15.0
        >>> table.lookup("gpt-4o") is None
        True
    """

    prices: Mapping[str, Any] = field(default_factory=dict)
    use_genai_prices: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.prices, Mapping):
            raise ConfigError(f"PriceTable.prices must be a mapping, got {type(self.prices).__name__}")
        coerced = {str(k): ModelPrice.coerce(str(k), v) for k, v in self.prices.items()}
        object.__setattr__(self, "prices", MappingProxyType(coerced))

    def __reduce__(self) -> tuple[Any, ...]:
        # A read-only mapping proxy cannot be pickled; the plain dict it wraps can.
        return (type(self), (dict(self.prices), self.use_genai_prices))

    def lookup(self, model: str) -> ModelPrice | None:
        """The table's own price for ``model`` (no ``genai-prices`` fallback), or None."""
        if model in self.prices:
            return self.prices[model]
        lowered = model.lower()
        for name, price in self.prices.items():
            if name.lower() == lowered:
                return price
        return None

    @classmethod
    def coerce(cls, table: "PriceTable | Mapping[str, Any] | None") -> "PriceTable":
        if table is None:
            return _DEFAULT_TABLE
        if isinstance(table, PriceTable):
            return table
        if isinstance(table, Mapping):
            return cls(table)
        raise ConfigError(f"price table must be a PriceTable or a mapping, got {type(table).__name__}")


_DEFAULT_TABLE = PriceTable()


def _check_tokens(prompt_tokens: int, completion_tokens: int) -> None:
    for name, value in (("prompt_tokens", prompt_tokens), ("completion_tokens", completion_tokens)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name} must be a non-negative int, got {value!r}")


@functools.lru_cache(maxsize=1024)
def _genai_price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    try:
        from genai_prices import Usage, calc_price
    except ImportError:  # a lean install without the table prices nothing rather than failing
        logger.warning("genai-prices is not installed; model %r has no price", model)
        return None
    usage = Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens)
    candidates: list[tuple[str, str | None]] = [(model, None)]
    # "openai/gpt-4o" and "anthropic:claude-..." name the provider explicitly.
    for sep in ("/", ":"):
        if sep in model:
            provider, _, name = model.partition(sep)
            candidates += [(name, provider), (name, None)]
    for name, provider in candidates:
        try:
            calc = calc_price(usage, name, provider_id=provider)
        except LookupError:
            continue
        return float(calc.total_price)
    return None


def genai_prices_lookup(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Dollars for the usage according to ``genai-prices`` alone, or None for an unknown model.

    Example:
        >>> genai_prices_lookup("gpt-4o-mini", 1_000_000, 1_000_000)
        0.75
    """
    _check_tokens(prompt_tokens, completion_tokens)
    return _genai_price(model, prompt_tokens, completion_tokens)


def estimate_cost_usd(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    *,
    table: PriceTable | Mapping[str, Any] | None = None,
) -> float | None:
    """Dollars that a call with this usage costs, or None when the model's price is unknown.

    Args:
        model: The model name as the core reports it (``"gpt-4o-mini"``, ``"openai/gpt-4o"``).
        prompt_tokens: Input tokens.
        completion_tokens: Output tokens.
        table: A ``PriceTable`` or a mapping of model -> price per million tokens; consulted
            first, then ``genai-prices`` (unless the table says ``use_genai_prices=False``).

    Returns:
        The cost in US dollars, or None for a model no table knows (never 0 for unknown).

    Raises:
        ConfigError: negative or non-integer token counts, or a malformed table.

    Example:
        >>> estimate_cost_usd("claude-3-5-haiku-latest", 1000, 1000)
        0.0048
    """
    _check_tokens(prompt_tokens, completion_tokens)
    if not isinstance(model, str) or not model:
        raise ConfigError(f"model must be a non-empty str, got {model!r}")
    prices = PriceTable.coerce(table)
    own = prices.lookup(model)
    if own is not None:
        return own.cost(prompt_tokens, completion_tokens)
    if not prices.use_genai_prices:
        return None
    return _genai_price(model, prompt_tokens, completion_tokens)
