"""Bundle writes (and a bundle read by id): each write checked inside its transaction against
the newest version as it stands then, each replace or delete conditional on the version read."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from catalog.model import Bundle

from .. import schemas as s
from ..schemas import ErrorDetail, bundle_of, bundle_out, findings_as_errors
from . import errors
from .base import StoreService
from .errors import InvalidBundle
from .errors import stale as _stale
from .errors import unknown_bundle as _unknown_bundle


class BundleService(StoreService):
    async def bundle(self, bundle_id: str) -> s.BundleOut:
        view = await self.views.snapshot()
        version = view.versions.get(bundle_id)
        if version is None or view.catalog is None:
            raise _unknown_bundle(bundle_id)
        return bundle_out(view.catalog.bundles[bundle_id], version)

    async def create_bundle(self, data: s.BundleCreate) -> s.BundleOut:
        from catalog.store import BundleExists

        bundle = bundle_of(data.id, data)
        check = await self._bundle_check()
        try:
            stored = await self._run(self.store.create_bundle, bundle, check)
        except BundleExists:
            raise errors.BundleExists(
                f"编号 {bundle.id} 已被其他一件事使用。",
                detail=f"bundle {bundle.id!r} exists; replace it with PUT and If-Match",
                errors=[
                    ErrorDetail(message="id taken", field="id", source="body", kind="bundle", key=bundle.id)
                ],
            ) from None
        return bundle_out(stored.bundle, stored.version)

    async def replace_bundle(self, bundle_id: str, data: s.BundleReplace, if_version: int) -> s.BundleOut:
        from catalog.store import BundleNotFound, VersionConflict

        bundle = bundle_of(bundle_id, data)
        check = await self._bundle_check()
        try:
            stored = await self._run(self.store.replace_bundle, bundle, if_version, check)
        except BundleNotFound:
            raise _unknown_bundle(bundle_id) from None
        except VersionConflict as exc:
            raise _stale(bundle_id, if_version, exc.current, await self._bundle_name(bundle_id)) from None
        return bundle_out(stored.bundle, stored.version)

    async def delete_bundle(self, bundle_id: str, if_version: int) -> None:
        from catalog.store import BundleNotFound, VersionConflict

        try:
            await self._run(self.store.delete_bundle, bundle_id, if_version)
        except BundleNotFound:
            raise _unknown_bundle(bundle_id) from None
        except VersionConflict as exc:
            raise _stale(bundle_id, if_version, exc.current, await self._bundle_name(bundle_id)) from None

    async def _bundle_name(self, bundle_id: str) -> str | None:
        """The stored bundle's name (for a message), or None when it is gone."""
        stored = await self._run(self.store.bundle, bundle_id)
        return None if stored is None else stored.bundle.name

    async def current_version(self, bundle_id: str) -> int:
        stored = await self._run(self.store.bundle, bundle_id)
        if stored is None:
            raise _unknown_bundle(bundle_id)
        return stored.version

    async def _bundle_check(self) -> Callable[[Bundle], None]:
        """The check a bundle write runs inside its transaction: BUNDLE and UNKNOWN_REF against
        the newest version as it stands then (a publish finishing meanwhile is waited for)."""
        from catalog.validate import bundle_findings

        view = await self.views.snapshot()
        view.require()
        store = self.store

        def check(bundle: Bundle) -> None:
            current = view
            newest = store.heads()[0]
            catalog = (
                current.catalog if newest == current.version else store.dictionaries(newest, local=False)
            )
            assert catalog is not None
            # the townships and villages it names that the catalog leaves out (a lean view's), read by key
            named = {
                code: found[0]
                for code in bundle.regions or ()
                if code not in catalog.regions
                and (found := store.region_chain(newest, code, catalog.regions))
            }
            if named:
                catalog = msgspec.structs.replace(catalog, regions={**catalog.regions, **named})
            errors = [f for f in bundle_findings(bundle, catalog) if f.severity == "error"]
            if errors:
                raise InvalidBundle(
                    f"一件事未通过校验：{'；'.join(f.message for f in errors)}",
                    detail=f"the bundle has {len(errors)} error finding(s)",
                    errors=findings_as_errors(errors),
                )

        return check
