"""The bundler: "one thing, one visit" (一件事一次办) workflows over an in-memory catalog (§4).

Pure functions over `catalog.model.Catalog`; no database, no web framework.
"""

from .document import (
    BundleError,
    BundleProblem,
    Check,
    Conditional,
    FormField,
    MaterialToBring,
    Metrics,
    OpenQuestion,
    OptionalRequirement,
    Step,
    Waived,
    Workflow,
)
from .optimize import HittingSet, greedy_hitting_set, minimum_hitting_set
from .render import render_guide, summary_text
from .report import RegionChecks, bundle_checks
from .situations import checked_answers
from .workflow import compose, compose_bundle

__all__ = [
    "BundleError",
    "BundleProblem",
    "Check",
    "Conditional",
    "FormField",
    "HittingSet",
    "MaterialToBring",
    "Metrics",
    "OpenQuestion",
    "OptionalRequirement",
    "RegionChecks",
    "Step",
    "Waived",
    "Workflow",
    "bundle_checks",
    "checked_answers",
    "compose",
    "compose_bundle",
    "greedy_hitting_set",
    "minimum_hitting_set",
    "render_guide",
    "summary_text",
]
