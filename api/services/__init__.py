"""Services behind the routes and pages, one per job: `reads`, `workflows`, `bundles`,
`publishing`, `checks` (§4.1 across regions), `stats`, `lifecycle` (§6), `cases` (§7). Each is
built in `api.app.create_app` and given what it uses; none builds another."""
