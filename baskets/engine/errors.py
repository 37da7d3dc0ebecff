"""The engine's error family: each names the constraint or input that failed.

The daily cycle catches ``BasketEngineError``: nothing is published, the Fund's previous basket is
not reused, and Operations is alerted with ``str(error)`` and ``error.constraint``.
"""

from __future__ import annotations


class BasketEngineError(ValueError):
    """Base of the engine's errors; ``constraint`` is a short machine-readable name of what failed."""

    constraint: str = "engine"

    def __init__(self, message: str, *, constraint: str | None = None):
        super().__init__(message)
        if constraint is not None:
            self.constraint = constraint

    def __str__(self) -> str:
        return f"[{self.constraint}] {super().__str__()}"


class InvalidPortfolio(BasketEngineError):
    """The portfolio weights are unusable: not summing to one, negative, not finite, duplicated."""

    constraint = "portfolio"


class InvalidParameters(BasketEngineError):
    """A basket parameter is outside its allowed range (e.g. the active-share band outside 5%-30%)."""

    constraint = "parameters"


class EmptyUniverse(BasketEngineError):
    """No security is eligible for the basket (after removing protected and ineligible names)."""

    constraint = "universe"


class InsufficientHistory(BasketEngineError):
    """Too few return observations to estimate risk (overall, or for named holdings)."""

    constraint = "history"


class InfeasibleBasket(BasketEngineError):
    """No basket satisfies the constraints; ``constraint`` names the one that cannot be met."""

    constraint = "infeasible"


class MetricInputError(BasketEngineError):
    """A metric was given unusable inputs (negative or non-finite weights, misaligned series)."""

    constraint = "metric-input"
