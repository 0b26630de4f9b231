"""A learned re-ranker: a linear model over the score's components that re-orders the head.

The model is plain numbers (feature names, the standardisation's means and scales, the
coefficients, the intercept), stored as JSON with its evaluation (``matcher model train``),
so serving needs no scikit-learn and nothing is unpickled. It only *orders*: the first
``depth`` results by the hand-set score are re-ordered by the model's value; every
``score`` stays on the hand-set scale, the one the unmet-needs threshold and the donor
cut-off use. Training and the promotion rule live in ``matcher.engine.learning``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HAND_SET = "hand-set"  # the model version of a ranking no learned model ordered
DEPTH = 30  # results (by hand-set score) the model re-orders; training sees the same head


@dataclass(frozen=True)
class LinearReranker:
    """``value(x) = intercept + Σ coefficient_i · (x_i − mean_i) / scale_i`` over the named
    components (a component missing from a result counts 0)."""

    version: str
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float = 0.0
    depth: int = DEPTH

    def __post_init__(self) -> None:
        sizes = {len(self.features), len(self.means), len(self.scales), len(self.coefficients)}
        if len(sizes) != 1:
            raise ValueError("a re-ranker needs as many means, scales and coefficients as features")
        if any(scale <= 0 for scale in self.scales):
            raise ValueError("scales must be positive")

    def value(self, components: Mapping[str, float]) -> float:
        total = self.intercept
        for name, mean, scale, coefficient in zip(
            self.features, self.means, self.scales, self.coefficients, strict=True
        ):
            total += coefficient * (components.get(name, 0.0) - mean) / scale
        return total

    def parameters(self) -> dict[str, Any]:
        """JSON-ready parameters (``from_parameters`` reads them back)."""
        return {
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "depth": self.depth,
        }

    @classmethod
    def from_parameters(cls, version: str, parameters: Mapping[str, Any]) -> LinearReranker:
        return cls(
            version=version,
            features=tuple(parameters["features"]),
            means=tuple(float(v) for v in parameters["means"]),
            scales=tuple(float(v) for v in parameters["scales"]),
            coefficients=tuple(float(v) for v in parameters["coefficients"]),
            intercept=float(parameters.get("intercept", 0.0)),
            depth=int(parameters.get("depth", DEPTH)),
        )


def reorder(items: Sequence[Any], reranker: LinearReranker | None) -> list[Any]:
    """``items`` (ranked results with ``components`` and ``offering.id``, best hand-set score
    first) with the first ``reranker.depth`` re-ordered by the model's value, ties by id."""
    if reranker is None:
        return list(items)
    head = sorted(
        items[: reranker.depth], key=lambda item: (-reranker.value(item.components), item.offering.id)
    )
    return [*head, *items[reranker.depth :]]
