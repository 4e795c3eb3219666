"""Limit/offset paging on servers that cap pages, lack X-Total-Count, page by Link
headers, repeat pages or overstate totals; concurrent fetching in order, bounded."""

import time

import pytest

from rostersync.oneroster import Class, User
from rostersync.oneroster.errors import BadResponse, NotOneRoster
from rostersync.oneroster.paging import RawPage, RecordStream

from .fake_sis import BASE, Reply, make_users


def ids(records):
    return [r.sourced_id for r in records]


def offsets_asked(fake, collection="users"):
    return [int(dict(s.query)["offset"]) for s in fake.data_requests(collection)]


@pytest.mark.parametrize("total_count, link", [(True, False), (False, True), (False, False), (True, True)])
def test_a_silently_capped_page_size_is_learnt(make_fake, make_client, total_count, link):
    users = make_users(1050)
    fake = make_fake(data={"users": users}, page_cap=100, total_count=total_count, link=link)
    client = make_client(fake, auth_method="oauth1", page_limit=1000, max_in_flight=1)
    stream = client.stream("users")
    assert ids(stream) == [u["sourcedId"] for u in users]
    assert stream.page_size == 100
    asked = offsets_asked(fake)
    assert asked[:11] == list(range(0, 1100, 100))
    # Without X-Total-Count or Link, only an empty page proves the end.
    assert len(asked) == (12 if not total_count and not link else 11)


def test_link_headers_alone_end_the_stream(make_fake, make_client):
    fake = make_fake(data={"users": make_users(250)}, total_count=False, link=True)
    client = make_client(fake, auth_method="oauth1", page_limit=100)
    stream = client.stream("users")
    assert len(list(stream)) == 250 and stream.total is None
    assert offsets_asked(fake) == [0, 100, 200]


def test_an_exact_multiple_without_total_needs_one_empty_page(make_fake, make_client):
    fake = make_fake(data={"users": make_users(200)}, total_count=False)
    client = make_client(fake, auth_method="oauth1", page_limit=100)
    assert len(list(client.stream("users"))) == 200
    assert offsets_asked(fake) == [0, 100, 200]


def test_empty_collection(make_fake, make_client):
    fake = make_fake(data={"users": []})
    client = make_client(fake, auth_method="oauth1")
    stream = client.stream("users")
    pages = list(stream.pages())
    assert [p.records for p in pages] == [[]] and stream.complete
    assert offsets_asked(fake) == [0]


def test_a_server_repeating_the_same_page_is_a_bad_response(make_fake, make_client):
    fake = make_fake(data={"users": make_users(300)}, total_count=False, ignore_offset=True)
    client = make_client(fake, auth_method="oauth1", page_limit=100)
    with pytest.raises(BadResponse) as looping:
        list(client.stream("users"))
    assert "same page" in str(looping.value) and looping.value.endpoint == BASE + "/users"
    assert len(fake.data_requests("users")) == 2


def test_repeats_are_caught_in_concurrent_mode_too(make_fake, make_client):
    fake = make_fake(data={"users": make_users(1000)}, ignore_offset=True)
    client = make_client(fake, auth_method="oauth1", page_limit=100, max_in_flight=4)
    with pytest.raises(BadResponse):
        list(client.stream("users"))


def test_the_page_cap_stops_an_endless_server(make_fake, make_client):
    counter = iter(range(10**6))
    fake = make_fake(data={"users": []}, total_count=False)
    fake.routes[BASE + "/users"] = lambda s: (
        fake._check_auth(s) or Reply(200, {"users": [{"sourcedId": f"x{next(counter)}"}]})
    )
    client = make_client(fake, auth_method="oauth1", max_pages=25)
    with pytest.raises(BadResponse) as endless:
        list(client.stream("users"))
    assert "25 pages" in str(endless.value)
    assert len(fake.data_requests("users")) == 25


def test_pages_come_in_offset_order_with_concurrency(make_fake, make_client):
    users = make_users(2345)
    fake = make_fake(data={"users": users}, page_cap=100)
    fake.latency = 0.01
    client = make_client(fake, auth_method="oauth1", page_limit=1000, max_in_flight=4)
    stream = client.stream("users")
    pages = list(stream.pages())
    assert [p.offset for p in pages] == list(range(0, 2400, 100))
    assert ids(r for p in pages for r in p.records) == [u["sourcedId"] for u in users]
    assert all(p.total == 2345 for p in pages)
    assert 2 <= fake.max_in_flight <= 4
    assert stream.requests == 24 and client.requests_total == 24


def test_concurrency_is_faster_than_sequential(make_fake, make_client):
    fake = make_fake(data={"users": make_users(1200)}, page_cap=100)
    fake.latency = 0.05  # large next to the client's own work, even on a loaded machine
    sequential = make_client(fake, auth_method="oauth1", max_in_flight=1)
    concurrent = make_client(fake, auth_method="oauth1", max_in_flight=6)
    start = time.perf_counter()
    assert len(list(sequential.stream("users"))) == 1200
    slow = time.perf_counter() - start
    fake.max_in_flight = 0
    start = time.perf_counter()
    assert len(list(concurrent.stream("users"))) == 1200
    fast = time.perf_counter() - start
    assert fake.max_in_flight == 6
    assert fast < slow / 2


def test_buffering_is_bounded_by_max_in_flight(make_fake, make_client):
    fake = make_fake(data={"users": make_users(5000)}, page_cap=100)
    client = make_client(fake, auth_method="oauth1", max_in_flight=3)
    pages = client.stream("users").pages()
    next(pages)  # the first page, then a slow consumer
    time.sleep(0.2)
    assert len(fake.data_requests("users")) <= 1 + 3
    next(pages)
    time.sleep(0.2)
    assert len(fake.data_requests("users")) <= 1 + 3 + 1
    pages.close()  # abandoning the stream cancels what is queued


def test_an_overstated_total_ends_at_the_first_empty_page(make_fake, make_client):
    users = make_users(250)
    fake = make_fake(data={"users": users}, page_cap=100)
    real = fake._collection

    def lying(seen, rest):
        reply = real(seen, rest)
        reply.headers["X-Total-Count"] = "1000"
        return reply

    fake._collection = lying
    client = make_client(fake, auth_method="oauth1", max_in_flight=4)
    assert ids(client.stream("users")) == [u["sourcedId"] for u in users]


def test_a_short_page_in_the_middle_is_filled_in(make_fake, make_client):
    """A concurrent page that comes back short (a server-side hiccup) must not leave a gap."""
    users = make_users(400)
    fake = make_fake(data={"users": users}, page_cap=100)
    real = fake._collection
    short_once = {"done": False}

    def hiccup(seen, rest):
        reply = real(seen, rest)
        query = dict(seen.query)
        if query["offset"] == "100" and query["limit"] == "100" and not short_once["done"]:
            short_once["done"] = True
            reply.body["users"] = reply.body["users"][:60]
        return reply

    fake._collection = hiccup
    client = make_client(fake, auth_method="oauth1", max_in_flight=4)
    assert ids(client.stream("users")) == [u["sourcedId"] for u in users]


def test_stream_over_a_fake_fetch_without_http():
    """paging.py on its own: a capped server with no total, Link next on every page but the last."""
    data = [{"sourcedId": f"c{i}", "school": {"sourcedId": "s"}} for i in range(7)]

    def fetch(offset, limit):
        page = data[offset : offset + min(limit, 3)]
        return RawPage(page, None, offset + 3 < len(data))

    stream = RecordStream(
        "classes", fetch, endpoint="/classes", filter=None, page_limit=5, max_in_flight=4, max_pages=100
    )
    records = list(stream)
    assert [r.sourced_id for r in records] == [f"c{i}" for i in range(7)]
    assert all(isinstance(r, Class) for r in records)


# --------------------------------------------------------------------------- envelopes


@pytest.mark.parametrize(
    "collection, key",
    [
        ("schools", "orgs"),
        ("schools", "schools"),
        ("schools", "school"),
        ("students", "users"),
        ("students", "students"),
        ("teachers", "teachers"),
        ("terms", "academicSessions"),
        ("terms", "terms"),
        ("users", "users"),
        ("classes", "classes"),
    ],
)
def test_envelope_keys_real_servers_send(make_fake, make_client, collection, key):
    record = {"sourcedId": "r1", "school": {"sourcedId": "s1"}}
    fake = make_fake(data={collection: [record]}, envelope={collection: key})
    client = make_client(fake, auth_method="oauth1")
    assert ids(client.stream(collection)) == ["r1"]


def test_a_200_without_a_known_key_is_not_oneroster(make_fake, make_client):
    fake = make_fake(data={"users": []})
    fake.routes[BASE + "/users"] = lambda s: Reply(200, {"data": [], "status": "ok"})
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(NotOneRoster) as wrong:
        list(client.stream("users"))
    assert wrong.value.endpoint == BASE + "/users" and "users" in str(wrong.value)


def test_a_page_of_another_collection_is_a_bad_response(make_fake, make_client):
    fake = make_fake(data={"users": []})
    fake.routes[BASE + "/users"] = lambda s: Reply(200, {"classes": [{"sourcedId": "c1"}]})
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(BadResponse) as wrong:
        list(client.stream("users"))
    assert "classes" in str(wrong.value)


def test_null_list_is_an_empty_page(make_fake, make_client):
    fake = make_fake(data={"users": []})
    fake.routes[BASE + "/users"] = lambda s: Reply(200, {"users": None})
    client = make_client(fake, auth_method="oauth1")
    assert list(client.stream("users")) == []


def test_nested_collections_and_single_records(make_fake, make_client):
    fake = make_fake(data={"users": make_users(3)})
    fake.routes[BASE + "/schools/s%201/students"] = lambda s: Reply(
        200, {"users": make_users(2) if dict(s.query)["offset"] == "0" else []}
    )
    client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("schools/s 1/students"))) == 2
    user = client.get("users", "u00002")
    assert isinstance(user, User) and user.given_name == "G2"
    assert client.get("users", "missing") is None


# --------------------------------------------------------------------------- filters

DELTA = "dateLastModified>'2026-11-01T00:00:00.000Z'"


def test_filter_honoured_when_the_server_applies_it(make_fake, make_client):
    users = make_users(3, stamp="2026-10-01T00:00:00.000Z") + make_users(2, prefix="n")
    fake = make_fake(data={"users": users})
    client = make_client(fake, auth_method="oauth1")
    stream = client.stream("users", filter=DELTA)
    assert stream.filter_honoured is None  # not read yet
    assert ids(stream) == ["n00000", "n00001"]
    assert stream.filter_honoured is True


def test_filter_not_honoured_when_the_server_ignores_it(make_fake, make_client):
    users = make_users(3, stamp="2026-10-01T00:00:00.000Z") + make_users(2, prefix="n")
    fake = make_fake(data={"users": users}, ignore_filter=True)
    client = make_client(fake, auth_method="oauth1")
    stream = client.stream("users", filter=DELTA)
    assert len(list(stream)) == 5
    assert stream.filter_honoured is False and stream.filter_mismatches == 3


def test_no_filter_means_none(make_fake, make_client):
    fake = make_fake(data={"users": make_users(2)})
    client = make_client(fake, auth_method="oauth1")
    stream = client.stream("users")
    list(stream)
    assert stream.filter_honoured is None


def test_date_style_is_learnt_from_the_server(make_fake, make_client):
    from datetime import UTC, datetime

    fake = make_fake(data={"users": make_users(2, stamp="2026-11-02T10:00:00.35Z")})
    client = make_client(fake, auth_method="oauth1")
    since = datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=UTC)
    assert client.changed_since(since) == "dateLastModified>'2026-11-01T08:30:15.12Z'"
    fake2 = make_fake(data={"users": make_users(2, stamp="2026-11-02T10:00:00Z")})
    client2 = make_client(fake2, auth_method="oauth1")
    list(client2.stream("users"))
    requests_before = len(fake2.seen)
    assert client2.changed_since(since) == "dateLastModified>'2026-11-01T08:30:15Z'"
    assert len(fake2.seen) == requests_before  # learnt from the stream already read


@pytest.mark.parametrize("in_flight, total_count", [(1, True), (4, True), (1, False)])
def test_a_read_resumes_from_a_start_offset(make_fake, make_client, in_flight, total_count):
    users = make_users(1030)
    fake = make_fake(data={"users": users}, page_cap=100, total_count=total_count)
    client = make_client(fake, auth_method="oauth1", max_in_flight=in_flight)
    stream = client.stream("users", start_offset=250)
    pages = list(stream.pages())
    assert pages[0].offset == 250 and [p.offset for p in pages[1:4]] == [350, 450, 550]
    assert ids(r for p in pages for r in p.records) == [u["sourcedId"] for u in users[250:]]
    assert list(client.stream("users", start_offset=5000)) == []
