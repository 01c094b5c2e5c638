"""The one shape of a resource's controller: its path, its OpenAPI tag and who may call it,
said in its class line — `class ChecksController(Resource, path="/checks", tag="checks",
role="reviewer")` — instead of three class attributes in every module of `api.routes`.

`role` is the role the caller's token must admit (`api.auth.ROLE_OPT`), none for a public
route; every other keyword (`public`, `unscoped`, `credentials`, …) goes to the handlers' `opt`
as it is."""

from __future__ import annotations

from typing import Any

from litestar import Controller


class Resource(Controller):
    def __init_subclass__(cls, *, path: str, tag: str, role: str | None = None, **opt: Any) -> None:
        super().__init_subclass__()
        cls.path = path
        cls.tags = (tag,)
        if role is not None or opt:
            cls.opt = {"role": role, **opt} if role is not None else opt
