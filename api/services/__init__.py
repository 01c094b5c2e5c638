"""Services behind the routes and pages, one per job (the catalog reads and workflows live in
`api.state.CatalogService`; `checks` is the bundle checks of §4.1 across regions)."""
