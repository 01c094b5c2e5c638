"""The domain errors of §7: each carries the spec's `code` and `errors` naming what is at fault.

The HTTP status of each class is said once, in `api.problems`; nothing here knows HTTP.
"""

from __future__ import annotations

from .model import Fault


class CaseError(Exception):
    """A refusal of §7: `code` (the spec's), a Chinese `message`, and the `errors` at fault."""

    code = "CASE"

    def __init__(
        self,
        message: str,
        errors: list[Fault] | None = None,
        *,
        code: str | None = None,
        items: list[str] | None = None,
    ):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.errors = errors or []
        self.items = items


class Refused(CaseError):
    """A hand-in refused (§7.1: UNANSWERED, FORM, MATERIALS, CONSENT, NOT_OFFERED, §4's codes), or
    a body that is well-formed but wrong (a `reject` without `note`, a score out of range)."""

    code = "INVALID"


class Transition(CaseError):
    """An event (or an action on a rectification) that the current state does not allow."""

    code = "TRANSITION"


class NotFinal(CaseError):
    """A rating of a case that is still open."""

    code = "NOT_FINAL"


class Rated(CaseError):
    """A second rating of a case."""

    code = "RATED"


class CaseNotFound(CaseError):
    """No such case, task or rectification (or not one the caller may see)."""

    code = "NOT_FOUND"


class Denied(CaseError):
    """The caller may not act on this case, task or rectification."""

    code = "FORBIDDEN"


class Unauthenticated(CaseError):
    """Neither the case's access code nor a token was sent."""

    code = "UNAUTHENTICATED"


class Unconfigured(CaseError):
    """The service cannot keep cases: no key to encrypt personal data with."""

    code = "CASE_KEY_MISSING"
