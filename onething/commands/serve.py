"""`onething serve [--db URL] [--redis URL] [--host H] [--port P] [--workers N] [--trusted-proxy CIDR]…` — the API on uvicorn.

Settings come from the environment (`api.settings`); the flags set ONETHING_DB and
REDIS_URL for this process and, with `--workers N`, for every worker, which imports
`api.app:create_app` as a factory. Several instances (on several machines) may share
one PostgreSQL database and one Redis behind a load balancer: they hold no state of
their own that another could miss. `--replica URL` (repeatable, ONETHING_REPLICAS) sends the
reads of a version to PostgreSQL hot standbys that have replayed it (`catalog.store.replicas`).

Request heads (the request line and headers) are bounded at `api.bodies.MAX_HEADER_BYTES`
(32 KiB): a larger one is refused by the server before it reaches the app.
"""

from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the HTTP API (Litestar on uvicorn)",
        description="Serve the JSON API, the OpenAPI schema at /schema and the pages.",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="store URL (sqlite:///path or postgresql+psycopg://…); env ONETHING_DB; "
        "default sqlite:///onething.db",
    )
    parser.add_argument(
        "--replica",
        metavar="URL",
        action="append",
        default=[],
        help="a PostgreSQL hot standby of --db that answers reads (repeatable); env ONETHING_REPLICAS",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="Redis URL for the shared workflow cache; env REDIS_URL; default: in-process cache",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--trusted-proxy",
        metavar="CIDR",
        action="append",
        default=[],
        help="a proxy in front whose X-Forwarded-For names the client (rate limit, sign-in lockout); "
        "repeatable; added to env ONETHING_TRUSTED_PROXIES",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    if args.db:
        os.environ["ONETHING_DB"] = args.db
    if args.replica:
        os.environ["ONETHING_REPLICAS"] = " ".join(args.replica)
    if args.redis:
        os.environ["REDIS_URL"] = args.redis
    if args.trusted_proxy:
        listed = [os.environ.get("ONETHING_TRUSTED_PROXIES", ""), *args.trusted_proxy]
        os.environ["ONETHING_TRUSTED_PROXIES"] = ",".join(p for p in listed if p)
    # Create the tables once, before the workers race to.
    from api.bodies import MAX_HEADER_BYTES
    from api.settings import Settings
    from catalog.store import Store

    Store(Settings.from_env().db_url).dispose()  # SettingsError: a bad setting, said before serving
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        # Off: proxy headers count only from ONETHING_TRUSTED_PROXIES, applied in the app
        # (`api.proxies`) — uvicorn's own would trust any local peer's X-Forwarded-For.
        proxy_headers=False,
        access_log=args.log_level == "debug",
        # h11, for its bound on a request's head: headers past it are refused before the app
        # (httptools, uvicorn's other parser, buffers headers of any size).
        http="h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    return 0
