"""The bundler: "one thing, one visit" (一件事一次办) workflows over an in-memory catalog (§4).

Pure functions over `catalog.model.Catalog`; no database, no web framework.
"""

from .document import (
    BundleError,
    BundleProblem,
    FormField,
    MaterialToBring,
    Metrics,
    OptionalRequirement,
    Step,
    Waived,
    Workflow,
)
from .optimize import HittingSet, greedy_hitting_set, minimum_hitting_set
from .render import render_guide, summary_text
from .workflow import compose, compose_bundle

__all__ = [
    "BundleError",
    "BundleProblem",
    "FormField",
    "HittingSet",
    "MaterialToBring",
    "Metrics",
    "OptionalRequirement",
    "Step",
    "Waived",
    "Workflow",
    "compose",
    "compose_bundle",
    "greedy_hitting_set",
    "minimum_hitting_set",
    "render_guide",
    "summary_text",
]
