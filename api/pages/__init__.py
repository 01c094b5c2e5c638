"""Server-rendered pages for designers and reviewers (Jinja2, work without JavaScript).

`ROUTES` is what `api.app.create_app` mounts.
"""

ROUTES: list = []
