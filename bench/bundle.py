"""Benchmark: compose time and exactness of the bundler against a greedy set-cover baseline.

Two deterministic generated catalogs (seeded, built in this script):
  * engineering — a 40-item engineering-construction bundle, ~360 requirements of
    2-5 alternatives over ~300 materials, popular materials shared widely;
  * stress — a 200-item bundle, ~600 requirements over ~1,500 materials.
A third, flat variant of the 40-item bundle (every material about as likely)
is harder than real catalogs — one dense random set-cover component — and
shows the solver's worst case rather than its usual one.
Items output licenses that later items accept (precedence, internal waivers),
some materials are e-licenses or commitments, implementations sit at county,
city or province level so resolution walks the tree.

For each: the median wall time of `compose` over repeated runs, whether the
minimum was proven, and — on the very requirements left after waivers — the
exact solver alone against greedy set cover (materials and time).

Run:  .venv/bin/python bench/bundle.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import highspy

from bundler import compose, greedy_hitting_set, minimum_hitting_set
from catalog.codes import implementation_code, uscc_check_char
from catalog.model import (
    Agency,
    Catalog,
    Header,
    Implementation,
    Item,
    Material,
    Requirement,
    requirements_of,
)
from fixtures.ningxia import REGIONS as NINGXIA_REGIONS

REGIONS = NINGXIA_REGIONS[:4]  # the nation, 宁夏, 银川, 兴庆区
APPLICANT = "640104"
E_LICENSE = 0.03
COMMITMENT = 0.02


def generate(
    seed: int, items: int, materials: int, per_item: tuple[int, int], skew: float
) -> tuple[Catalog, list[str]]:
    """A catalog with one bundle's worth of items; returns it and the item codes in bundle order.

    Material popularity is Zipf-like with exponent `skew`: a few documents (ID,
    business license, site plan) are asked for everywhere, most by few items.
    """
    rnd = random.Random(seed)
    pool = [f"mat-{i:04d}" for i in range(materials)]
    weights = [1 / (rank + 1) ** skew for rank in range(materials)]
    catalog = Catalog(header=Header("onething-catalog/1", f"bench.{seed}"))
    catalog.regions = {r.code: r for r in REGIONS}
    catalog.materials = {
        m: Material(
            m, f"材料{m}", "other", e_license=rnd.random() < E_LICENSE, commitment=rnd.random() < COMMITMENT
        )
        for m in pool
    }
    codes = [f"0001{n + 1:05d}000" for n in range(items)]
    for n, code in enumerate(codes):
        output = f"out-{n:04d}"
        catalog.materials[output] = Material(output, f"证照{n}", "license")
        requirements = []
        for j in range(rnd.randint(*per_item)):
            alternatives = set()
            while len(alternatives) < rnd.randint(2, 5):
                alternatives.add(rnd.choices(pool, weights)[0])
            any_of = sorted(alternatives)
            if n and rnd.random() < 0.08:  # accepts an earlier item's license instead
                any_of.append(f"out-{rnd.randrange(n):04d}")
            requirements.append(Requirement(f"r{j}", any_of, optional=rnd.random() < 0.1))
        requires = [codes[rnd.randrange(n)]] if n and rnd.random() < 0.1 else []
        days = rnd.randint(5, 60)
        catalog.items[code] = Item(
            code=code,
            name=f"工程建设事项{n}",
            type="01",
            basis=["《建筑法》"],
            owner="000000",
            levels=["province", "city", "county"],
            materials=requirements,
            statutory_days=days,
            outputs=[output],
            requires=requires,
            fields=[f"field.{rnd.randrange(items * 2)}" for _ in range(rnd.randint(3, 12))],
        )
        region = rnd.choices(["640104", "640100", "640000"], [6, 3, 1])[0]
        body = f"11{region}MB{n:07d}"
        uscc = body + uscc_check_char(body)
        level = catalog.regions[region].level
        impl = Implementation(
            code=implementation_code(uscc, level, code),
            item=code,
            region=region,
            agency=Agency(f"机构{n}", uscc),
            name=f"工程建设事项{n}",
            type="01",
            basis=["《建筑法》"],
            statutory_days=days,
            promised_days=rnd.randint(1, days),
            visits=rnd.randint(0, 3),
            online_depth=3,
        )
        catalog.implementations[impl.code] = impl
    return catalog, codes


def remaining_requirements(catalog: Catalog, codes: list[str], workflow) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The requirements the applicant must meet by hand: non-optional and not waived."""
    waived = {w.requirement for w in workflow.waived}
    by_item = {s.item: catalog.implementations[s.implementation] for s in workflow.steps}
    return [
        r.any_of
        for code in (s.item for s in workflow.steps)
        for r in requirements_of(by_item[code], catalog.items[code])
        if not r.optional and f"{code}#{r.req}" not in waived
    ]


def median_ms(run, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench(name: str, catalog: Catalog, codes: list[str], runs: int, target_ms: float | None) -> None:
    requirements = sum(len(catalog.items[c].materials) for c in codes)
    alternatives = len({m for c in codes for r in catalog.items[c].materials for m in r.any_of})
    workflow = compose(catalog, codes, APPLICANT)  # warm-up, and the answer
    compose_ms = median_ms(lambda: compose(catalog, codes, APPLICANT), runs)
    left = remaining_requirements(catalog, codes, workflow)
    exact = minimum_hitting_set(left)
    greedy = greedy_hitting_set(left)
    exact_ms = median_ms(lambda: minimum_hitting_set(left), runs)
    greedy_ms = median_ms(lambda: greedy_hitting_set(left), runs)
    m = workflow.metrics
    print(f"== {name}: {len(codes)} items, {requirements} requirements, {alternatives} distinct alternatives")
    verdict = (
        ""
        if target_ms is None
        else f" (target ≤ {target_ms:.0f} ms) {'OK' if compose_ms <= target_ms else 'OVER'}"
    )
    print(f"   compose median      {compose_ms:8.2f} ms over {runs} runs{verdict}")
    print(f"   optimality proven   {workflow.optimal}")
    print(
        f"   materials           {m.materials_before} before → {m.materials_after} after;"
        f" {len(workflow.waived)} waived; {len(left)} requirements left to the solver"
    )
    print(f"   exact (HiGHS)       {len(exact.chosen):5d} materials  {exact_ms:8.2f} ms median")
    print(f"   greedy set cover    {len(greedy):5d} materials  {greedy_ms:8.2f} ms median")
    print(
        f"   greedy / exact      {len(greedy) / max(len(exact.chosen), 1):.3f} materials,"
        f" {exact_ms / max(greedy_ms, 1e-9):.1f}x the time"
    )
    print(
        f"   days {m.days_before} → {m.days_after}, visits {m.visits_before} → {m.visits_after},"
        f" fields {m.fields_before} → {m.fields_after}, stages {len(workflow.stages)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31, help="repetitions per timing (median reported)")
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, nproc {os.cpu_count()}, Python {platform.python_version()},"
        f" HiGHS {highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH},"
        f" {platform.platform()}, load average {os.getloadavg()[0]:.1f} at start"
    )
    print(f"reproduce: .venv/bin/python bench/bundle.py --runs {args.runs}")
    bench("engineering", *generate(40, 40, 300, (6, 12), 0.6), runs=args.runs, target_ms=20)
    bench("stress", *generate(200, 200, 1500, (2, 4), 0.3), runs=max(args.runs // 3, 5), target_ms=500)
    print("-- harder than real catalogs: flat popularity leaves one dense random component")
    for seed in (40, 41, 42):
        bench(f"engineering-flat seed {seed}", *generate(seed, 40, 300, (6, 12), 0.3), runs=5, target_ms=None)


if __name__ == "__main__":
    main()
