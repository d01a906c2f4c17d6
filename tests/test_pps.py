"""πps sampling (JQS-DRAW-2's arithmetic) and the Horvitz–Thompson estimate it allows."""

import hashlib
import hmac
import math
import random

import pytest

from inspections.sampling import horvitz_thompson, inclusion_probabilities, pareto_ranking, uniform_from_key, wilson


def test_inclusion_probabilities_sum_to_the_sample_size_and_follow_the_size_between_floor_and_cap():
    rng = random.Random(7)
    sizes = [rng.expovariate(1) for _ in range(200)]
    floor = 0.2 * 40 / 200
    chances = inclusion_probabilities(sizes, 40, floor)
    assert math.fsum(chances) == pytest.approx(40, abs=1e-9)
    assert min(chances) == pytest.approx(floor) and max(chances) <= 1.0
    free = [(s, p) for s, p in zip(sizes, chances, strict=True) if floor < p < 1.0]
    ratios = {round(p / s, 9) for s, p in free}
    assert len(ratios) == 1, "between the floor and the cap, proportional to the size"


def test_equal_sizes_give_every_unit_the_same_chance():
    assert inclusion_probabilities([0.3] * 10, 3) == pytest.approx([0.3] * 10)


def test_a_dominant_unit_is_certain_and_the_rest_share_what_is_left():
    chances = inclusion_probabilities([100.0] + [1.0] * 9, 5)
    assert chances[0] == 1.0
    assert chances[1:] == pytest.approx([4 / 9] * 9)


def test_the_floor_is_lowered_only_as_far_as_the_caps_require():
    # Two certain units leave 1 draw for 4 others: a floor of 0.4 each would need 1.6.
    chances = inclusion_probabilities([50.0, 50.0, 1.0, 1.0, 1.0, 1.0], 3, floor=0.4)
    assert chances[:2] == [1.0, 1.0] and chances[2:] == pytest.approx([0.25] * 4)


def test_an_empty_or_saturated_stratum():
    assert inclusion_probabilities([1.0, 2.0], 0) == [0.0, 0.0]
    assert inclusion_probabilities([1.0, 2.0], 2) == [1.0, 1.0]


def test_pareto_ranking_puts_certain_units_first_and_impossible_ones_last():
    assert pareto_ranking(0.99, 1.0) == 0.0
    assert pareto_ranking(0.01, 0.0) == math.inf
    assert pareto_ranking(0.5, 0.5) == pytest.approx(1.0)
    assert pareto_ranking(0.5, 0.8) < pareto_ranking(0.5, 0.2), "a larger λ ranks earlier for the same uniform"


def test_the_uniform_comes_from_the_published_key():
    key = hmac.new(b"seed", b"risk:913399000000000011", hashlib.sha256).hexdigest()
    assert 0 < uniform_from_key(key) < 1
    assert uniform_from_key("0" * 64) == 0.5 / 2**256


def _pareto_sample(chances: list[float], n: int, seed: int) -> list[int]:
    keys = [hmac.new(str(seed).encode(), f"risk:{i}".encode(), hashlib.sha256).hexdigest() for i in range(len(chances))]
    ranked = sorted(range(len(chances)), key=lambda i: (pareto_ranking(uniform_from_key(keys[i]), chances[i]), i))
    return ranked[:n]


def test_pareto_inclusion_frequencies_come_close_to_the_target_probabilities():
    rng = random.Random(3)
    sizes = [rng.uniform(0.02, 0.4) for _ in range(40)]
    chances = inclusion_probabilities(sizes, 10, floor=0.05)
    runs = 4000
    hits = [0] * 40
    for seed in range(runs):
        for i in _pareto_sample(chances, 10, seed):
            hits[i] += 1
    for i in range(40):
        assert hits[i] / runs == pytest.approx(chances[i], abs=0.035)


def test_horvitz_thompson_is_unbiased_over_many_draws_of_a_small_population():
    rng = random.Random(11)
    sizes = [rng.uniform(0.02, 0.5) for _ in range(60)]
    failing = [1 if rng.random() < s else 0 for s in sizes]  # the score says something about the outcome
    chances = inclusion_probabilities(sizes, 15, floor=0.05)
    truth = sum(failing) / 60
    runs = 3000
    estimates, covered = [], 0
    for seed in range(runs):
        drawn = _pareto_sample(chances, 15, seed)
        estimate = horvitz_thompson({"all": [(chances[i], failing[i]) for i in drawn]}, 60)
        estimates.append(estimate.value)
        covered += estimate.low <= truth <= estimate.high
    assert sum(estimates) / runs == pytest.approx(truth, rel=0.03)
    assert covered / runs >= 0.88


def test_units_checked_with_certainty_add_their_findings_as_they_are():
    estimate = horvitz_thompson({"h": [(0.5, 1), (0.5, 0)]}, population=10, certain_found=3)
    assert estimate.value == pytest.approx((3 + 1 / 0.5) / 10)


def test_a_simple_random_sample_gets_a_wilson_interval():
    estimate = wilson(7, 100)
    assert estimate.value == pytest.approx(0.07)
    assert estimate.low == pytest.approx(0.0343, abs=1e-3) and estimate.high == pytest.approx(0.1375, abs=1e-3)
    assert wilson(0, 0).value is None
