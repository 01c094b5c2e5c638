"""The fewest materials (§4 step 4): an exact minimum hitting set.

Each requirement is the set of materials any one of which meets it; the
applicant hands in a set S that hits every requirement, |S| as small as
possible. The problem is NP-hard in general but catalog instances shrink to
almost nothing under three classic reductions (a requirement that contains
another is dropped, a material whose requirements another material also meets
is dropped, a requirement left with one material forces it), and what remains
splits into small independent components. Each non-trivial component is a
0-1 program for HiGHS: its LP relaxation often proves a rounded solution
optimal at once, else branch and bound does; only a time limit can stop it
short, and then the answer says so (never a silent heuristic).

Ties are broken by the order materials first appear in the input (requirement
by requirement, alternative by alternative): the material a guide lists first
wins, so the same input always yields the same answer.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Sequence

import highspy
import numpy as np
from msgspec import Struct

TIME_LIMIT = 10.0
"""Seconds HiGHS may spend in all before the answer is marked not optimal."""


class HittingSet(Struct, frozen=True):
    chosen: list[str]
    """The materials to hand in, in the order they first appear in the input."""
    optimal: bool
    """True when |chosen| is proven minimum."""
    lower_bound: int
    """A proven lower bound on the minimum (equal to len(chosen) when optimal)."""


def minimum_hitting_set(requirements: Sequence[Sequence[str]], time_limit: float = TIME_LIMIT) -> HittingSet:
    """The fewest materials that meet every requirement (each a list of alternatives).

    Raises ValueError for a requirement with no alternative: nothing can meet it.
    """
    if not all(requirements):
        raise ValueError("a requirement with no alternative cannot be met")
    names, sets = _ranked(requirements)
    forced, components = _reduce(sets)
    chosen = set(forced)
    lower = len(forced)
    optimal = True
    deadline = time.monotonic() + time_limit
    for component in components:
        picked, proven, bound = _solve(component, max(deadline - time.monotonic(), 0.0))
        chosen.update(picked)
        lower += bound
        optimal = optimal and proven
    return HittingSet([names[i] for i in sorted(chosen)], optimal, len(chosen) if optimal else lower)


def greedy_hitting_set(requirements: Sequence[Sequence[str]]) -> list[str]:
    """The classic greedy cover (take the material meeting most open requirements):
    the baseline the exact answer is measured against, and the fallback when HiGHS
    is stopped before it finds any solution."""
    names, sets = _ranked(requirements)
    return [names[i] for i in sorted(_greedy(sets))]


def _ranked(requirements: Sequence[Sequence[str]]) -> tuple[list[str], list[frozenset[int]]]:
    """Materials numbered in order of first appearance (the tie-break), requirements as sets of numbers."""
    rank: dict[str, int] = {}
    for alternatives in requirements:
        for material in alternatives:
            rank.setdefault(material, len(rank))
    return list(rank), [frozenset(rank[m] for m in alternatives) for alternatives in requirements]


def _greedy(sets: Sequence[frozenset[int]]) -> set[int]:
    """Lazy greedy: a heap of (open requirements met, rank), refreshed when popped stale."""
    meets: dict[int, set[int]] = {}
    for index, s in enumerate(sets):
        for m in s:
            meets.setdefault(m, set()).add(index)
    heap = [(-len(met), m) for m, met in meets.items()]
    heapq.heapify(heap)
    open_ = set(range(len(sets)))
    chosen: set[int] = set()
    while open_:
        stored, m = heapq.heappop(heap)
        count = len(meets[m] & open_)
        if count == -stored:
            chosen.add(m)
            open_ -= meets[m]
        elif count:
            heapq.heappush(heap, (-count, m))
    return chosen


def _reduce(sets: list[frozenset[int]]) -> tuple[list[int], list[list[frozenset[int]]]]:
    """Forced materials and the independent components left to solve.

    Every step keeps at least one minimum hitting set, so solving what is left
    and adding the forced materials is still exact.
    """
    forced: list[int] = []
    current = _drop_supersets(set(sets))
    while True:
        singles = {next(iter(s)) for s in current if len(s) == 1}
        if singles:  # dropping requirements makes no new containment, so no superset pass
            forced.extend(sorted(singles))
            current = {s for s in current if s.isdisjoint(singles)}
        dominated = _dominated_materials(current)
        if not dominated:
            break
        current = _drop_supersets({s - dominated for s in current})
    return forced, _components(current)


def _drop_supersets(sets: set[frozenset[int]]) -> set[frozenset[int]]:
    """Drop each requirement that contains another: meeting the smaller meets it too.

    A superset of t holds every material of t, its rarest one included: only
    the requirements holding that one need a look.
    """
    containing: dict[int, list[frozenset[int]]] = {}
    for s in sets:
        for m in s:
            containing.setdefault(m, []).append(s)
    supersets: set[frozenset[int]] = set()
    for t in sets:
        rarest = min(t, key=lambda m: len(containing[m]))
        supersets.update(s for s in containing[rarest] if t < s)
    return sets - supersets


def _dominated_materials(sets: set[frozenset[int]]) -> set[int]:
    """Materials whose requirements are all met by another material (the earlier one on a tie).

    Dominance is a strict order, so each dominated material has an undominated
    dominator in every requirement it meets: all of them may go at once.
    """
    meets: dict[int, set[frozenset[int]]] = {}
    for s in sets:
        for m in s:
            meets.setdefault(m, set()).add(s)
    dominated = set()
    for m, mine in meets.items():
        some = next(iter(mine))
        for other in some:
            if other == m:
                continue
            theirs = meets[other]
            if mine <= theirs and (len(mine) < len(theirs) or other < m):
                dominated.add(m)
                break
    return dominated


def _components(sets: set[frozenset[int]]) -> list[list[frozenset[int]]]:
    """Requirements grouped so that no material is shared between groups (union-find)."""
    parent: dict[int, int] = {}

    def root(m: int) -> int:
        while parent.setdefault(m, m) != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    for s in sets:
        first, *rest = s
        for m in rest:
            a, b = root(first), root(m)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[frozenset[int]]] = {}
    for s in sorted(sets, key=sorted):
        groups.setdefault(root(next(iter(s))), []).append(s)
    return [groups[k] for k in sorted(groups)]


def _solve(sets: list[frozenset[int]], time_limit: float) -> tuple[set[int], bool, int]:
    """One component: min Σx subject to Σ_{m∈s} x_m ≥ 1 for every requirement s, x binary.

    Trivial components never get here: after the reductions a requirement
    alone, or a material in every requirement, has become a forced choice.
    The LP relaxation comes first: its optimum, rounded up, is a lower bound,
    and when rounding its solution reaches that bound the answer is proven
    without branch and bound (the usual case for catalogs, 5x faster). Else
    the same model becomes the 0-1 program, started from the rounded solution.

    Returns the materials picked, whether that is proven optimal, and the proven bound.
    """
    deadline = time.monotonic() + time_limit
    columns = sorted(set().union(*sets))
    index = {m: j for j, m in enumerate(columns)}
    rows = [sorted(index[m] for m in s) for s in sets]
    solver = _program(rows, len(columns), time_limit)
    solver.run()
    bound = 1
    start: set[int] = set()
    if solver.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        bound = max(bound, math.ceil(solver.getInfo().objective_function_value - 1e-6))
        start = _round(rows, solver.getSolution().col_value)
        if len(start) == bound:
            return {columns[j] for j in start}, True, bound

    n = len(columns)
    solver.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.full(n, int(highspy.HighsVarType.kInteger), dtype=np.uint8)
    )
    if start:
        solver.setSolution(len(start), np.array(sorted(start), dtype=np.int32), np.ones(len(start)))
    solver.setOptionValue("time_limit", max(deadline - time.monotonic(), 1e-3))
    solver.run()
    info = solver.getInfo()
    if info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible:
        picked = {columns[j] for j, x in enumerate(solver.getSolution().col_value) if x > 0.5}
    else:
        picked = {columns[j] for j in start} if start else _greedy(sets)
    if solver.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        return picked, True, len(picked)
    if math.isfinite(info.mip_dual_bound):
        bound = max(bound, math.ceil(info.mip_dual_bound - 1e-6))
    return picked, bound >= len(picked), min(bound, len(picked))


def _program(rows: list[list[int]], columns: int, time_limit: float):  # type: ignore[no-untyped-def]
    """The LP relaxation of the hitting set, built from arrays in one call, in a silent solver."""
    starts = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum([len(r) for r in rows], out=starts[1:])
    lp = highspy.HighsLp()
    lp.num_col_ = columns
    lp.num_row_ = len(rows)
    lp.col_cost_ = np.ones(columns)
    lp.col_lower_ = np.zeros(columns)
    lp.col_upper_ = np.ones(columns)
    lp.row_lower_ = np.ones(len(rows))
    lp.row_upper_ = np.full(len(rows), highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = np.fromiter((j for r in rows for j in r), dtype=np.int32, count=int(starts[-1]))
    lp.a_matrix_.value_ = np.ones(int(starts[-1]))

    # The bare core class: highspy.Highs() prints a banner to stdout on creation
    # (before output_flag can be set), which would corrupt `bundle --json`, and
    # routes every log line through a Python callback.
    solver = highspy._Highs()  # type: ignore[attr-defined]
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("time_limit", max(time_limit, 1e-3))
    solver.setOptionValue("threads", 1)
    solver.setOptionValue("mip_rel_gap", 0.0)
    # The objective is an integer: a gap below 1 proves the incumbent optimal.
    solver.setOptionValue("mip_abs_gap", 1 - 1e-6)
    # A small cut pool keeps the LPs light: 2-4x faster on the hard (flat,
    # random) components of bench/bundle.py, never slower on the easy ones.
    solver.setOptionValue("mip_pool_soft_limit", 100)
    solver.passModel(lp)
    return solver


def _round(rows: list[list[int]], x: Sequence[float]) -> set[int]:
    """A hitting set from an LP solution: its whole columns, then for each requirement
    still open its largest column, then drop any column the others make redundant."""
    chosen = {j for j, value in enumerate(x) if value > 1 - 1e-6}
    for row in rows:
        if chosen.isdisjoint(row):
            chosen.add(max(row, key=lambda j: (x[j], -j)))
    met_by: dict[int, list[int]] = {j: [] for j in chosen}
    cover = [0] * len(rows)
    for r, row in enumerate(rows):
        for j in row:
            if j in chosen:
                met_by[j].append(r)
                cover[r] += 1
    for j in sorted(chosen, key=lambda j: (x[j], -j)):
        if all(cover[r] > 1 for r in met_by[j]):
            chosen.discard(j)
            for r in met_by[j]:
                cover[r] -= 1
    return chosen
