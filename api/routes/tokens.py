"""API tokens (an unscoped admin): create (the secret is shown once; optionally scoped to a
region), list, revoke by name. Every change is in the audit (`GET /audit`)."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio.to_thread
from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from catalog.store import Store

from ..auth import caller_of
from ..problems import ErrorDetail, ProblemException
from ..schemas import Revoked, TokenCreate, TokenCreated, TokenInfo, TokenList
from ..services.errors import not_found
from ..view import Views
from .resource import Resource


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class TokenController(Resource, path="/tokens", tag="tokens", role="admin", unscoped=True):
    @get(summary="All tokens (names, roles and regions; secrets are not kept)")
    async def list_tokens(self, store: NamedDependency[Store]) -> TokenList:
        rows = await anyio.to_thread.run_sync(store.tokens)
        return TokenList(
            tokens=[TokenInfo(name=n, role=r, region=g, created_at=_utc(c)) for n, r, g, c in rows]
        )

    @post(
        summary="Create a token (with `region`: it acts only within that subtree)",
        description="A region-scoped reviewer may submit, approve and publish only partial submissions "
        "within its region; a region-scoped designer edit only bundles offered there. Admins are never "
        "scoped. 422 for a region the newest version does not have.",
        status_code=201,
    )
    async def create(
        self,
        request: Request,
        views: NamedDependency[Views],
        store: NamedDependency[Store],
        data: JSONBody[TokenCreate],
    ) -> TokenCreated:
        if data.region is not None:
            snap = await views.snapshot()
            snap.require()
            await views.locate(snap, data.region)  # a township or village: its chain, by key
            if data.role == "admin" or not snap.knows(data.region):
                raise ProblemException(
                    422,
                    "INVALID_SCOPE",
                    "an admin is never scoped" if data.role == "admin" else f"no region {data.region}",
                    errors=[ErrorDetail(message="not a scope for this token", source="body", field="region")],
                )
        by = caller_of(request).name
        token = await anyio.to_thread.run_sync(
            lambda: store.create_token(data.name, data.role, region=data.region, by=by)
        )
        return TokenCreated(name=data.name, role=data.role, region=data.region, token=token)

    @delete("/{name:str}", summary="Revoke every token of that name", status_code=200)
    async def revoke(self, request: Request, store: NamedDependency[Store], name: FromPath[str]) -> Revoked:
        by = caller_of(request).name
        count = await anyio.to_thread.run_sync(lambda: store.revoke_tokens(name, by=by))
        request.app.state.tokens.forget()
        if count == 0:
            raise not_found("token", name)
        return Revoked(name=name, revoked=count)
