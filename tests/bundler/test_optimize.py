"""The exact minimum hitting set against brute force, greedy, and a solver stopped by its time limit."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bundler import greedy_hitting_set, minimum_hitting_set

MATERIALS = [f"m{i}" for i in range(10)]


def brute_force_minimum(requirements: list[list[str]]) -> int:
    """The smallest number of materials meeting every requirement, by trying every subset by size."""
    universe = sorted({m for r in requirements for m in r})
    for size in range(len(universe) + 1):
        for subset in itertools.combinations(universe, size):
            if all(set(subset) & set(r) for r in requirements):
                return size
    raise AssertionError("unreachable: the whole universe meets every requirement")


def textbook_greedy(requirements: list[list[str]]) -> set[str]:
    """Greedy set cover written out independently of the module's."""
    open_ = [set(r) for r in requirements]
    chosen: set[str] = set()
    while open_:
        counts: dict[str, int] = {}
        for r in open_:
            for m in r:
                counts[m] = counts.get(m, 0) + 1
        best = max(sorted(counts), key=counts.__getitem__)
        chosen.add(best)
        open_ = [r for r in open_ if best not in r]
    return chosen


def greedy_trap() -> list[list[str]]:
    """Fourteen requirements, two rows of seven; `row-a` and `row-b` each meet a row.

    `wide` meets 8 (columns 0-3 of both rows), `mid` 4 (columns 4-5), `narrow`
    2 (column 6). Greedy takes `wide` (8 > 7), then `mid` (4 > 3), then
    `narrow` (2 > 1): 3 materials, each choice unambiguous. The optimum is
    {row-a, row-b}: 2. Every requirement has two alternatives, so nothing is
    forced and the integer program decides.
    """
    column = ["wide"] * 4 + ["mid"] * 2 + ["narrow"]
    return [[row, column[c]] for row in ("row-a", "row-b") for c in range(7)]


def test_greedy_needs_more_than_the_exact_minimum() -> None:
    requirements = greedy_trap()
    assert textbook_greedy(requirements) == {"wide", "mid", "narrow"}
    assert len(greedy_hitting_set(requirements)) == 3
    result = minimum_hitting_set(requirements)
    assert result.chosen == ["row-a", "row-b"]
    assert result.optimal and result.lower_bound == 2


requirement_lists = st.lists(
    st.lists(st.sampled_from(MATERIALS), min_size=1, max_size=5, unique=True),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(requirement_lists)
def test_minimum_hitting_set_equals_brute_force(requirements: list[list[str]]) -> None:
    result = minimum_hitting_set(requirements)
    assert result.optimal
    assert all(set(r) & set(result.chosen) for r in requirements)
    assert len(result.chosen) == brute_force_minimum(requirements) == result.lower_bound
    assert len(set(result.chosen)) == len(result.chosen)
    assert len(greedy_hitting_set(requirements)) >= len(result.chosen)


@settings(max_examples=50, deadline=None)
@given(requirement_lists)
def test_the_answer_does_not_depend_on_requirement_order(requirements: list[list[str]]) -> None:
    """Deterministic: the same input gives the same answer, and a shuffled one the same size."""
    first = minimum_hitting_set(requirements)
    assert minimum_hitting_set(requirements) == first
    assert len(minimum_hitting_set(requirements[::-1]).chosen) == len(first.chosen)


def test_branch_and_bound_decides_where_the_lp_bound_falls_short() -> None:
    """The 12 lines of the affine plane AG(2,3): the LP gives 3 (every point at 1/3) but a set
    meeting every line needs 5 points, so rounding cannot prove it and the 0-1 program must."""
    points = [(x, y) for x in range(3) for y in range(3)]
    lines = [
        [f"{p}" for p in points if (a * p[0] + b * p[1]) % 3 == c]
        for a, b in ((0, 1), (1, 0), (1, 1), (1, 2))
        for c in range(3)
    ]
    assert len(lines) == 12 and all(len(line) == 3 for line in lines)
    result = minimum_hitting_set(lines)
    assert len(result.chosen) == brute_force_minimum(lines) == 5
    assert result.optimal and result.lower_bound == 5
    assert all(set(line) & set(result.chosen) for line in lines)


def test_ties_go_to_the_alternative_listed_first() -> None:
    assert minimum_hitting_set([["passport", "id-card"]]).chosen == ["passport"]
    assert minimum_hitting_set([["id-card", "passport"], ["passport", "id-card"]]).chosen == ["id-card"]


def test_no_requirement_needs_no_material() -> None:
    assert minimum_hitting_set([]).chosen == []


def test_a_requirement_without_alternatives_cannot_be_met() -> None:
    with pytest.raises(ValueError):
        minimum_hitting_set([["id-card"], []])


def steiner_triple_system(k: int) -> list[list[str]]:
    """Bose's Steiner triple system on 3(2k+1) points: symmetric, nothing to reduce, hard for MIP."""
    q = 2 * k + 1
    half = pow(2, -1, q)

    def p(x: int, i: int) -> str:
        return f"p{x}.{i}"

    triples = [[p(x, 0), p(x, 1), p(x, 2)] for x in range(q)]
    for x, y in itertools.combinations(range(q), 2):
        for i in range(3):
            triples.append([p(x, i), p(y, i), p((x + y) * half % q, (i + 1) % 3)])
    return triples


def test_a_time_limit_is_reported_never_hidden() -> None:
    """STS(27) takes HiGHS far longer than a millisecond to prove (about 0.2 s): stopped, it
    still returns materials that meet every requirement, says it is not optimal, and gives a bound."""
    triples = steiner_triple_system(4)
    result = minimum_hitting_set(triples, time_limit=0.001)
    assert not result.optimal
    assert all(set(t) & set(result.chosen) for t in triples)
    assert 1 <= result.lower_bound < len(result.chosen)
