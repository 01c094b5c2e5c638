"""Server-rendered pages for designers and reviewers (Jinja2, work without JavaScript).

`ROUTES` is what `api.app.create_app` mounts: the landing page `/`, the pages
under `/pages/…` (one router, whose errors are pages too) and their static
files under `/pages/static/`.

| page | URL | role |
|---|---|---|
| landing | `/` | anyone |
| sign in / out (server-side session) | `/pages/login`, `/pages/logout` | anyone |
| region tree | `/pages/regions` | portal |
| a region's effective items | `/pages/regions/{code}?q=` | portal |
| a region's service points (revision 3) | `/pages/regions/{code}/service-points` | portal |
| an item beside its implementations | `/pages/items/{code}` | portal |
| an implementation | `/pages/implementations/{code}` | portal |
| review: findings and conformity chart | `/pages/review?rule=&severity=&region=` | reviewer |
| bundle checks: bundles × regions | `/pages/checks?check=&bundle=&region=` | reviewer |
| bundle designer (save: designer) | `/pages/designer?items=&region=&bundle=` | portal |
| bundles, a citizen's guide | `/pages/bundles`, `/pages/bundles/{id}/guide?region=&answer=Q:A` | portal |
| versions, diffs, needs-review queue, submissions (`lifecycle`) | `/pages/versions`, `/pages/review-queue`, `/pages/submissions` | reviewer |
"""

from __future__ import annotations

from litestar import Router
from litestar.static_files import create_static_files_router

from .browse import BrowseController
from .checks import ChecksPageController
from .designer import DesignerController
from .errors import HANDLERS
from .guide import BundlePagesController
from .home import favicon, home, login, login_form, logout
from .lifecycle import LifecyclePagesController
from .places import PlacesPageController
from .render import STATIC
from .review import ReviewController
from .stats import StatsPageController

pages = Router(
    path="/",
    route_handlers=[
        favicon,
        home,
        login_form,
        login,
        logout,
        BrowseController,
        ReviewController,
        ChecksPageController,
        DesignerController,
        BundlePagesController,
        StatsPageController,
        LifecyclePagesController,
        PlacesPageController,
    ],
    exception_handlers=HANDLERS,  # type: ignore[arg-type]
    include_in_schema=False,
)

ROUTES: list = [
    pages,
    create_static_files_router(
        path="/pages/static", directories=[STATIC], name="pages:static", include_in_schema=False
    ),
]
