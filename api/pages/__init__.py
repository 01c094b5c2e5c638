"""Server-rendered pages for citizens, designers and reviewers (Jinja2, work without JavaScript).

"public": open to anyone while public reads are on (`ONETHING_PUBLIC_READ`, the default),
as the JSON reads are; the staff's pages need a signed-in role.

`ROUTES` is what `api.app.create_app` mounts: the landing page `/`, the pages
under `/pages/…` (one router, whose errors are pages too, and which gives every handler `snap`,
the newest version's view) and their static files under `/pages/static/`. What the handlers
share (the services by name, the caller, "do it or draw the form again") is `handlers`; the
templates' shared pieces (a table box, a pager, a region filter) are `templates/macros.html`.

| page | URL | role |
|---|---|---|
| sign in / out (server-side session) | `/pages/login`, `/pages/logout` | anyone |
| front door: the applicant's region (remembered), its one-things by life event | `/?region=` (`/pages` leads there) | anyone |
| search items and bundles with the words people use | `/pages/search?q=&region=` | public |
| region tree | `/pages/regions?q=` | public |
| a region's effective items | `/pages/regions/{code}?q=` | public |
| a region's service points (revision 3) | `/pages/regions/{code}/service-points` | public |
| an item beside its implementations | `/pages/items/{code}` | public |
| an implementation | `/pages/implementations/{code}` | public |
| review: findings and conformity chart | `/pages/review?rule=&severity=&region=` | reviewer |
| bundle checks: bundles × regions | `/pages/checks?check=&bundle=&region=` | reviewer |
| bundle designer (save: designer) | `/pages/designer?items=&region=&bundle=` | portal |
| bundles, a citizen's guide | `/pages/bundles?region=&q=`, `/pages/bundles/{id}/guide?region=&answer=Q:A` | public |
| versions, diffs, needs-review queue (`lifecycle`); submissions (`submissions`) | `/pages/versions`, `/pages/review-queue`, `/pages/submissions` | reviewer |
| 一窗受理 and its receipt (`cases`) | `/pages/cases/new`, POST `/pages/cases` | clerk: portal, reviewer, admin |
| the applicant's status page, rating (`case_status`) | `/pages/cases/status` (case number + access code, POSTed) | anyone with the code |
| 好差评 figures per region (`case_figures`) | `/pages/cases/figures?region=&bundle=&from=&to=` | public |
| an agency's task queue and events (`agency`) | `/pages/agency/tasks?state=&after=` | agency |
| rectifications (`agency`) | `/pages/rectifications?state=&overdue=` | agency answers; reviewer closes, reopens |
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from .agency import AgencyPagesController, RectificationPagesController
from .browse import BrowseController
from .case_figures import CaseFiguresPageController
from .case_status import CaseStatusPagesController
from .cases import CasePagesController
from .checks import ChecksPageController
from .csrf import form_token_guard
from .designer import DesignerController
from .errors import HANDLERS
from .guide import BundlePagesController
from .handlers import QueryFilters, snapshot
from .home import favicon, home, login, login_form, logout, pages_index
from .lifecycle import LifecyclePagesController
from .places import PlacesPageController
from .render import STATIC
from .review import ReviewController
from .search import SearchController
from .stats import StatsPageController
from .submissions import SubmissionPagesController

pages = Router(
    path="/",
    route_handlers=[
        favicon,
        home,
        pages_index,
        login_form,
        login,
        logout,
        BrowseController,
        ReviewController,
        ChecksPageController,
        DesignerController,
        BundlePagesController,
        SearchController,
        StatsPageController,
        LifecyclePagesController,
        SubmissionPagesController,
        PlacesPageController,
        CasePagesController,
        CaseStatusPagesController,
        CaseFiguresPageController,
        AgencyPagesController,
        RectificationPagesController,
    ],
    # the newest version's view, once a request; a listing page's filters from its query
    dependencies={"snap": Provide(snapshot), "filters": Provide(QueryFilters, sync_to_thread=False)},
    exception_handlers=HANDLERS,  # type: ignore[arg-type]
    guards=[form_token_guard],  # every POST form carries its session's token (`csrf`)
    include_in_schema=False,
)

ROUTES: list = [
    pages,
    create_static_files_router(
        path="/pages/static", directories=[STATIC], name="pages:static", include_in_schema=False
    ),
]
