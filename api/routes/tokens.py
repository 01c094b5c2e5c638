"""API tokens (admin): create (the secret is shown once), list, revoke by name."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio.to_thread
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ..problems import not_found
from ..schemas import Revoked, TokenCreate, TokenCreated, TokenInfo, TokenList
from ..state import CatalogService


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class TokenController(Controller):
    path = "/tokens"
    tags = ("tokens",)
    opt = {"role": "admin"}  # noqa: RUF012

    @get("/", summary="All tokens (names and roles; secrets are not kept)")
    async def list_tokens(self, catalog_service: NamedDependency[CatalogService]) -> TokenList:
        rows = await anyio.to_thread.run_sync(catalog_service.store.tokens)
        return TokenList(tokens=[TokenInfo(name=n, role=r, created_at=_utc(c)) for n, r, c in rows])

    @post("/", summary="Create a token", status_code=201)
    async def create(
        self, catalog_service: NamedDependency[CatalogService], data: JSONBody[TokenCreate]
    ) -> TokenCreated:
        token = await anyio.to_thread.run_sync(catalog_service.store.create_token, data.name, data.role)
        return TokenCreated(name=data.name, role=data.role, token=token)

    @delete("/{name:str}", summary="Revoke every token of that name", status_code=200)
    async def revoke(
        self, request: Request, catalog_service: NamedDependency[CatalogService], name: FromPath[str]
    ) -> Revoked:
        count = await anyio.to_thread.run_sync(catalog_service.store.revoke_tokens, name)
        request.app.state.tokens.forget()
        if count == 0:
            raise not_found("token", name)
        return Revoked(name=name, revoked=count)
