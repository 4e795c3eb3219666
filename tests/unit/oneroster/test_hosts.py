"""Which hosts the client may call: URL normalising, public-address rules, redirects,
and the per-connection peer check that stops DNS rebinding."""

import socket

import pytest

from rostersync.oneroster import ConnectionSettings, OneRosterClient, normalise_host_url
from rostersync.oneroster.errors import InvalidHostUrl, UnreachableHost
from rostersync.oneroster.hosts import AddressPolicy, is_public_address
from rostersync.oneroster.http import HttpClient

from .fake_sis import BASE, FakeSIS, Reply

# --------------------------------------------------------------------------- normalising


@pytest.mark.parametrize(
    "raw, expected, warned",
    [
        ("https://sis.example.org/district42/ims/oneroster/v1p1/", "https://sis.example.org/district42", True),
        ("https://sis.example.org/ims/oneroster/v1p1", "https://sis.example.org", True),
        ("https://SIS.Example.org/IMS/OneRoster/v1p1/users", "https://sis.example.org", True),
        ("https://sis.example.org/", "https://sis.example.org", False),
        ("https://sis.example.org:443/aeries", "https://sis.example.org/aeries", False),
        (
            "https://sis.example.org:8443/campus/oneroster/app",
            "https://sis.example.org:8443/campus/oneroster/app",
            False,
        ),
        ("  https://sis.example.org  ", "https://sis.example.org", False),
        ("sis.example.org/district", "https://sis.example.org/district", True),
    ],
)
def test_host_urls_are_normalised(raw, expected, warned):
    host = normalise_host_url(raw, allow_private=False)
    assert host.host_url == expected
    assert bool(host.warnings) is warned
    assert host.base_url == expected + "/ims/oneroster/v1p1"


def test_the_stripped_suffix_is_named_in_the_warning():
    host = normalise_host_url("https://sis.example.org/district42/ims/oneroster/v1p1/", allow_private=False)
    assert host.warnings == ["The host URL included /ims/oneroster/v1p1; it was removed: give the host only."]


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ftp://sis.example.org",
        "http://sis.example.org",
        "https://user:pw@sis.example.org",
        "https://127.0.0.1",
        "https://localhost:8900",
        "https://10.1.2.3",
        "https://169.254.169.254/latest",
        "https://[::1]/",
        "https://[fd00::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://192.168.0.10",
        "https://sis.example.org:99999",
        "https://",
    ],
)
def test_deployed_refuses_bad_and_private_hosts(raw):
    with pytest.raises(InvalidHostUrl) as refused:
        normalise_host_url(raw, allow_private=False)
    assert refused.value.code == "invalid_host_url"


def test_local_stack_allows_http_and_loopback():
    assert normalise_host_url("http://127.0.0.1:8900/", allow_private=True).host_url == "http://127.0.0.1:8900"
    assert normalise_host_url("http://localhost:8900", allow_private=True).host_url == "http://localhost:8900"


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.5", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104  (an address the policy must refuse, not a bind)
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd12::1", False),
        ("::ffff:8.8.8.8", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("ff02::1", False),
        ("not-an-ip", False),
    ],
)
def test_public_address_rules(address, public):
    assert is_public_address(address) is public


# --------------------------------------------------------------------------- resolution


def test_a_name_resolving_to_any_private_address_is_refused():
    policy = AddressPolicy(False, resolver=lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(InvalidHostUrl):
        policy.check_url("https://sis.example.org/ims/oneroster/v1p1/orgs")


def test_a_name_resolving_to_the_metadata_service_is_refused():
    policy = AddressPolicy(False, resolver=lambda host, port: ["169.254.169.254"])
    with pytest.raises(InvalidHostUrl):
        policy.check_url("https://metadata.example.org/")


def test_public_names_pass_and_dns_failure_is_unreachable():
    AddressPolicy(False, resolver=lambda h, p: ["93.184.216.34"]).check_url("https://sis.example.org/x")

    def broken(host, port):
        raise socket.gaierror("no such name")

    with pytest.raises(UnreachableHost):
        AddressPolicy(False, resolver=broken).check_url("https://nowhere.example.org/x")


def test_deployed_client_never_reaches_a_loopback_server(make_fake, monkeypatch):
    fake = make_fake(data={"orgs": []})
    real = socket.getaddrinfo

    def loopback(host, *args, **kwargs):  # the system resolver says loopback for this name
        return real("127.0.0.1", *args[:1], **kwargs) if host == "sis.example.test" else real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback)
    settings = ConnectionSettings(
        host_url=f"https://sis.example.test:{fake.port}", client_id="id", auth_method="oauth1"
    )
    client = OneRosterClient(settings, "secret-value", allow_private=False)
    with pytest.raises(InvalidHostUrl):
        list(client.stream("orgs"))
    assert fake.seen == []


def test_dns_rebinding_is_caught_by_the_peer_check(make_fake, monkeypatch):
    """The pre-request check sees a public address; the connection lands on loopback."""
    fake = make_fake(data={"orgs": []})
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "sis.rebind.test":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    settings = ConnectionSettings(host_url=f"https://sis.rebind.test:{fake.port}", client_id="id", auth_method="oauth1")
    client = OneRosterClient(
        settings, "secret-value", allow_private=False, resolver=lambda host, port: ["93.184.216.34"]
    )
    with pytest.raises(InvalidHostUrl) as refused:
        list(client.stream("orgs"))
    assert "private, loopback or reserved" in str(refused.value)
    assert fake.seen == []  # refused before a byte of the request was sent


# --------------------------------------------------------------------------- redirects


@pytest.fixture
def two_servers():
    """Two fakes on different loopback addresses: 127.0.0.1 plays 'public', 127.0.0.2 'private'."""
    first, second = FakeSIS(auth="none", data={"orgs": []}), FakeSIS(auth="none", data={"orgs": []})
    first.host_url = first.start()
    second.host_url = _start_on(second, "127.0.0.2")
    yield first, second
    first.stop()
    second.stop()


def _start_on(fake, address):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            fake._handle(self)

    fake._server = ThreadingHTTPServer((address, 0), Handler)
    fake._server.daemon_threads = True
    threading.Thread(target=fake._server.serve_forever, args=(0.02,), daemon=True).start()
    return f"http://{address}:{fake._server.server_address[1]}"


def _loopback_one_is_public_policy():
    return AddressPolicy(
        False, require_https=False, resolver=lambda h, p: [h], is_public=lambda address: address == "127.0.0.1"
    )


def test_redirect_targets_are_checked_again(two_servers):
    first, second = two_servers
    first.fail(BASE + "/orgs", Reply(302, headers={"Location": second.host_url + BASE + "/orgs"}))
    http = HttpClient(_loopback_one_is_public_policy(), connect_timeout=1, read_timeout=1)
    with pytest.raises(InvalidHostUrl):
        http.send("GET", first.host_url + BASE + "/orgs", headers_for=lambda m, u: {})
    assert len(first.seen) == 1 and second.seen == []


def test_peer_check_with_a_swapped_address(two_servers, monkeypatch):
    _first, second = two_servers
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: real("127.0.0.2" if host == "sis.test" else host, port, *a, **k),
    )
    policy = AddressPolicy(
        False,
        require_https=False,
        resolver=lambda h, p: ["127.0.0.1"],
        is_public=lambda address: address == "127.0.0.1",
    )
    http = HttpClient(policy, connect_timeout=1, read_timeout=1)
    port = second._server.server_address[1]
    with pytest.raises(InvalidHostUrl):
        http.send("GET", f"http://sis.test:{port}{BASE}/orgs", headers_for=lambda m, u: {})
    assert second.seen == []


def test_redirects_are_followed_and_re_signed_on_the_same_origin(make_fake, make_client):
    fake = make_fake(data={"orgs": [{"sourcedId": "o1", "name": "North"}]})
    fake.fail(BASE + "/orgs", Reply(301, headers={"Location": BASE + "/orgs-moved"}))
    fake.routes[BASE + "/orgs-moved"] = lambda seen: (
        fake._check_auth(seen) or Reply(200, {"orgs": [{"sourcedId": "o1", "name": "North"}]})
    )
    client = make_client(fake, auth_method="oauth1")
    records = list(client.stream("orgs"))
    assert [r.name for r in records] == ["North"]
    moved = [s for s in fake.seen if s.path.endswith("/orgs-moved")]
    assert moved and moved[0].headers["authorization"].startswith("OAuth ")


def test_credentials_are_not_sent_to_another_origin(two_servers):
    first, second = two_servers
    first.fail(BASE + "/orgs", Reply(307, headers={"Location": second.host_url + BASE + "/orgs"}))
    http = HttpClient(AddressPolicy(True), connect_timeout=1, read_timeout=1)
    response = http.send(
        "GET", first.host_url + BASE + "/orgs", headers_for=lambda m, u: {"Authorization": "Bearer sensitive"}
    )
    assert response.status_code == 200
    assert "authorization" not in second.seen[0].headers


def test_more_than_five_redirects_is_a_bad_response(make_fake, make_client):
    fake = make_fake(data={"orgs": []})
    fake.routes[BASE + "/orgs"] = lambda seen: Reply(302, headers={"Location": BASE + "/orgs"})
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(Exception) as failed:
        list(client.stream("orgs"))
    assert failed.value.code == "bad_response"
    assert len(fake.seen) == 6
