"""Sampling with probabilities proportional to a size (πps), as JQS-DRAW-2 uses it, and the Horvitz–Thompson
estimate its known inclusion probabilities allow. Pure functions of numbers: the draw, the dashboard, the
simulator and the benchmark call the same ones.

- ``inclusion_probabilities``: λᵢ between a floor and 1, proportional to the size in between, summing to the
  sample size n exactly (the enterprises capped at 1 are certain, those at the floor keep their minimum
  chance; the published steps are in its docstring).
- ``pareto_ranking`` (Rosén 1997): unit i with uniform uᵢ ∈ (0, 1) gets Qᵢ = [uᵢ/(1−uᵢ)] / [λᵢ/(1−λᵢ)]; the n
  units with the smallest Q are drawn (a certain unit, λ = 1, has Q = 0). Inclusion probabilities are then
  λᵢ up to a small error that vanishes as n grows, which is why statistics offices use it.
- ``uniform_from_key``: uᵢ from a published HMAC-SHA256 hex key, (k + ½) ÷ 2²⁵⁶.
"""

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054


def inclusion_probabilities(sizes: list[float], n: int, floor: float = 0.0) -> list[float]:
    """λ for a fixed-size πps sample of ``n`` of these units (positive ``sizes``), none above 1 nor below ``floor``.

    A. Caps: C = ∅; repeat c = (n − |C|) ÷ Σ_{i∉C} sᵢ, C ← C ∪ {i : c·sᵢ ≥ 1} until C stays the same.
    B. Floor: f = min(floor, (n − |C|) ÷ (N − |C|)); F = ∅; repeat c = (n − |C| − f·|F|) ÷ Σ_{i∉C∪F} sᵢ,
       F ← F ∪ {i ∉ C : c·sᵢ ≤ f} until F stays the same.
    λᵢ = 1 on C, f on F, c·sᵢ on the rest: Σλ = n. Sums are exactly rounded (``math.fsum``)."""
    count = len(sizes)
    if n <= 0 or count == 0:
        return [0.0] * count
    if n >= count:
        return [1.0] * count
    capped: set[int] = set()
    while True:
        scale = _scale(sizes, n - len(capped), capped)
        more = {i for i in range(count) if i not in capped and scale * sizes[i] >= 1.0}
        if not more:
            break
        capped |= more
    floor = min(floor, (n - len(capped)) / (count - len(capped)))
    floored: set[int] = set()
    while True:
        taken = capped | floored
        scale = _scale(sizes, n - len(capped) - floor * len(floored), taken)
        more = {i for i in range(count) if i not in taken and scale * sizes[i] <= floor}
        if not more:
            break
        floored |= more
    return [1.0 if i in capped else floor if i in floored else scale * sizes[i] for i in range(count)]


def _scale(sizes: list[float], left: float, taken: set[int]) -> float:
    total = math.fsum(size for i, size in enumerate(sizes) if i not in taken)
    return left / total if total > 0 else 0.0


def uniform_from_key(hex_key: str) -> float:
    return (int(hex_key, 16) + 0.5) / 2.0**256


def pareto_ranking(uniform: float, probability: float) -> float:
    """Rosén's ranking variable; the smallest are drawn. A unit that cannot be drawn (λ = 0) ranks last."""
    if probability >= 1.0:
        return 0.0
    if probability <= 0.0:
        return math.inf
    return (uniform / (1 - uniform)) / (probability / (1 - probability))


@dataclass(frozen=True)
class Estimate:
    """A population proportion with its 95 % interval (all in [0, 1])."""

    value: float | None
    low: float | None
    high: float | None
    sample: int

    def as_percent(self) -> dict:
        def pct(x):
            return None if x is None else round(100 * x, 1)

        return {"value": pct(self.value), "low": pct(self.low), "high": pct(self.high), "sample": self.sample}


def ht_total(strata: dict[str, list[tuple[float, int]]]) -> tuple[float, float, int]:
    """Σ yᵢ/πᵢ over the checked units of each stratum ``strata[h] = [(πᵢ, yᵢ), …]``, its variance (Rosén's
    approximation for Pareto πps, per stratum: n/(n−1) Σ (1−πᵢ)(yᵢ/πᵢ − B)², B = Σ(1−πᵢ)yᵢ/πᵢ ÷ Σ(1−πᵢ)) and the
    number of units. A unit with π = 1 adds its y exactly and no variance."""
    total, variance, sample = 0.0, 0.0, 0
    for units in strata.values():
        sample += len(units)
        total += math.fsum(y / p for p, y in units if p > 0)
        weights = math.fsum(1 - p for p, _y in units)
        if len(units) > 1 and weights > 0:
            b = math.fsum((1 - p) * y / p for p, y in units) / weights
            variance += len(units) / (len(units) - 1) * math.fsum((1 - p) * (y / p - b) ** 2 for p, y in units)
    return total, variance, sample


def share_estimate(total: float, variance: float, population: int, sample: int) -> Estimate:
    """A total and its variance as a share of ``population``, ±1.96 standard errors, clipped to [0, 1]."""
    if population <= 0 or sample <= 0:
        return Estimate(None, None, None, sample)
    share, error = total / population, math.sqrt(variance) / population
    return Estimate(share, max(0.0, share - Z_95 * error), min(1.0, share + Z_95 * error), sample)


def horvitz_thompson(strata: dict[str, list[tuple[float, int]]], population: int, certain_found: int = 0) -> Estimate:
    """The population's non-conforming share from πps samples (``ht_total``), plus ``certain_found`` found among
    units observed with certainty (a control arm all of whose members were checked), over ``population``."""
    total, variance, sample = ht_total(strata)
    return share_estimate(total + certain_found, variance, population, sample)


def wilson(found: int, n: int) -> Estimate:
    """A proportion observed in a simple random sample, with its 95 % Wilson interval."""
    if n <= 0:
        return Estimate(None, None, None, 0)
    p, z2 = found / n, Z_95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def logistic(logit: float) -> float:
    return 1 / (1 + math.exp(-logit))
