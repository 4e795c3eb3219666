"""OneRosterApi: one authorised GET below the OneRoster base -> its Response.

Filtered and sorted listings are cached per (path, filter, sort, quirks, data version), so a
client paging through 60,000 enrollments with a filter costs one scan, not one per page.
"""

import threading
from collections import OrderedDict

from . import listing
from .faults import Quirks
from .responses import Response, imsx_error, not_found
from .routes import Listing, Router, SingleRecord, UnknownObject
from .store import DistrictStore

CACHED_LISTINGS = 64


class OneRosterApi:
    def __init__(self, store: DistrictStore, quirks: Quirks):
        self.store = store
        self.quirks = quirks
        self.router = Router(store, quirks)
        self._cache: OrderedDict[tuple, Listing] = OrderedDict()
        self._cache_lock = threading.Lock()

    def answer(self, path: str, query: list[tuple[str, str]], url: str) -> Response:
        """`path` is below the base ("/users"); `url` is the request URL without query (for Links)."""
        params = dict(query)
        try:
            page = listing.parse_page_request(params, self.quirks.page_cap)
            resolved = self._resolve(path, page)
            if resolved is None:
                return not_found(f"no OneRoster endpoint {path}")
            if isinstance(resolved, SingleRecord):
                return Response(
                    200,
                    listing.single_body(self.store, resolved.collection, resolved.key, resolved.record, page.fields),
                )
            return self._page(resolved, page, query, url)
        except UnknownObject as exc:
            return not_found(str(exc))
        except listing.QueryError as exc:
            return imsx_error(400, exc.code_minor, str(exc))

    def _resolve(self, path: str, page: listing.PageRequest):
        quirks = self.quirks
        filter_text = None if quirks.ignore_filters else page.filter
        key = (
            path,
            filter_text,
            page.sort,
            page.descending,
            quirks.empty_students,
            quirks.wrong_collection,
            quirks.endpoint_envelopes,
            quirks.filters_return_empty,
            self.store.version,
        )
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        with self.store.lock:
            resolved = self.router.resolve(path)
            if isinstance(resolved, Listing):
                records = resolved.records
                if filter_text:
                    # Parsed even when the quirk empties the answer: a bad filter is still a 400.
                    records = listing.filter_records(self.store, resolved.collection, records, filter_text)
                    if quirks.filters_return_empty:
                        records = []
                if page.sort:
                    records = listing.sort_records(self.store, resolved.collection, records, page.sort, page.descending)
                resolved = Listing(resolved.collection, resolved.key, records)
        if isinstance(resolved, Listing):
            with self._cache_lock:
                self._cache[key] = resolved
                while len(self._cache) > CACHED_LISTINGS:
                    self._cache.popitem(last=False)
        return resolved

    def _page(self, found: Listing, page: listing.PageRequest, query: list[tuple[str, str]], url: str) -> Response:
        total = len(found.records)
        # repeat_pages: a server that ignores offset and sends the first page again and again.
        offset = 0 if self.quirks.repeat_pages else page.offset
        records = found.records[offset : offset + page.limit]
        body = listing.page_body(self.store, found.collection, found.key, records, page.fields)
        headers = {}
        if not self.quirks.no_total_count:
            headers["X-Total-Count"] = str(total)
        if not self.quirks.no_link:
            headers["Link"] = listing.link_header(url, query, page.limit, page.offset, total)
        return Response(200, body, headers=headers)
