"""The console as the local stack serves it (its own origin, config.json, the local-only sign-in)
and the deployed config.json the `rostersync console` command builds and uploads."""

import json

import requests

from rostersync_tools import console_config
from rostersync_tools.local.tokens import verify_token
from tests.fixtures.stack import api as api_client

OUTPUTS = {
    "ApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com/dev",
    "ConsoleUrl": "https://d111.cloudfront.net/",
    "ConsoleUserPoolClientId": "console-client",
    "UserPoolHostedUiDomain": "rostersync-dev-123.auth.us-east-1.amazoncognito.com",
    "ConsoleBucketName": "rostersync-console-test",
}


def test_the_console_is_served_on_its_own_origin_with_its_config_and_security_headers(local_stack):
    console = local_stack.console.url
    assert local_stack.console_url == f"{console}/" and console != local_stack.api_url
    page = requests.get(console + "/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/app.js">' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and f"connect-src 'self' {local_stack.api_url}" in csp
    assert "frame-ancestors 'none'" in csp and page.headers["x-content-type-options"] == "nosniff"
    assert requests.get(console + "/js/app.js", timeout=10).headers["content-type"].startswith("text/javascript")
    config = requests.get(console + "/config.json", timeout=10).json()
    assert config == {
        "mode": "local",
        "apiUrl": local_stack.api_url,
        "local": {"signInPath": "/local/token", "sisHostUrl": None, "sisClientId": None},
    }
    # Unknown pages are the console itself (one page); missing assets and escapes are 404s.
    assert "js/app.js" in requests.get(console + "/somewhere", timeout=10).text
    assert requests.get(console + "/js/missing.js", timeout=10).status_code == 404
    escaped = requests.get(console + "/%2e%2e/template.yaml", timeout=10)
    assert "AWSTemplateFormatVersion" not in escaped.text


def test_the_local_sign_in_mints_the_tokens_local_token_does(local_stack):
    url = local_stack.console.url + "/local/token"
    answer = requests.post(url, json={"role": "district_admin", "districtId": "dst_x"}, timeout=10)
    assert answer.status_code == 200
    claims = verify_token(local_stack.keys, answer.json()["idToken"])
    assert claims["custom:role"] == "district_admin" and claims["custom:district_id"] == "dst_x"
    assert claims["sub"] == "local-district-admin"
    # The API accepts it as it accepts `rostersync local token`'s.
    status, body = api_client(local_stack, answer.json()["idToken"]).get("/districts")
    assert status == 200 and body == {"districts": [], "nextCursor": None}

    refusals = [
        (dict(json={"role": "root"}), 422),
        (dict(json={"role": "district_admin"}), 422),  # which district?
        (dict(data="role=platform_admin", headers={"Content-Type": "application/x-www-form-urlencoded"}), 400),
        (dict(json={"role": "platform_admin"}, headers={"Origin": "http://localhost:9999"}), 403),
        (dict(data=b"[1]", headers={"Content-Type": "application/json"}), 400),
    ]
    for kwargs, status in refusals:
        refused = requests.post(url, timeout=10, **kwargs)
        assert refused.status_code == status, kwargs
        assert set(refused.json()["error"]) == {"code", "message"}
        assert "idToken" not in refused.json()


def test_the_api_answers_the_consoles_preflights(local_stack):
    origin = local_stack.console.url
    for method, path in (
        ("PUT", "/districts/dst_x/sis/connection"),
        ("POST", "/districts/dst_x/syncs"),
        ("GET", "/districts/dst_x/users"),
    ):
        answer = requests.options(
            local_stack.api_url + path,
            timeout=10,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == origin
        assert method in answer.headers["access-control-allow-methods"].split(",")
        assert {"authorization", "content-type"} <= set(answer.headers["access-control-allow-headers"].split(","))
    # And the error answers carry the origin too, so the console can read the error shape.
    answer = requests.get(local_stack.api_url + "/districts/dst_x/syncs", headers={"Origin": origin}, timeout=10)
    assert answer.status_code == 401 and answer.headers["access-control-allow-origin"] == origin


def test_districts_list_and_profile(local_stack):
    support = api_client(local_stack, local_stack.token("platform_admin"))
    made = [
        support.post("/districts", json={"name": f"District {n}", "timezone": "America/Chicago"})[1] for n in range(3)
    ]
    pages, cursor = [], None
    while True:
        status, page = support.get("/districts", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert status == 200
        pages.append(page["districts"])
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert sorted(d["districtId"] for p in pages for d in p) == sorted(d["districtId"] for d in made)
    assert support.get("/districts", params={"cursor": "nonsense"})[0] == 400
    assert support.get("/districts", params={"limit": "0"})[0] == 422
    own = api_client(local_stack, local_stack.token("district_admin", made[1]["districtId"]))
    assert own.get("/districts") == (200, {"districts": [made[1]], "nextCursor": None})
    status, profile = own.get(f"/districts/{made[1]['districtId']}")  # the district overview (issue 11)
    assert status == 200 and {k: profile[k] for k in made[1]} == made[1]
    assert own.get(f"/districts/{made[0]['districtId']}")[0] == 403
    teacher = api_client(local_stack, local_stack.token("teacher", made[1]["districtId"]))
    assert teacher.get("/districts")[0] == 403
    assert support.get("/districts/dst_missing")[1]["error"]["code"] == "not_found"


def test_the_deployed_config_comes_from_the_stack_outputs(tmp_path, capsys):
    built = console_config.config_from_outputs(OUTPUTS)
    assert built == {
        "mode": "cognito",
        "apiUrl": OUTPUTS["ApiUrl"],
        "cognito": {
            "domain": "https://rostersync-dev-123.auth.us-east-1.amazoncognito.com",
            "clientId": "console-client",
            "redirectUri": "https://d111.cloudfront.net/",
            "scopes": ["openid", "email", "profile"],
        },
    }
    listed = tmp_path / "outputs.json"
    listed.write_text(json.dumps([{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()]))
    assert console_config.main(["config", "--outputs", str(listed)]) == 0
    assert json.loads(capsys.readouterr().out) == built
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"ApiUrl": OUTPUTS["ApiUrl"]}))
    assert console_config.main(["config", "--outputs", str(partial)]) == 1
    assert "ConsoleUrl" in capsys.readouterr().err


def test_console_deploy_uploads_the_files_and_the_config(aws, tmp_path):
    # The session's embedded moto (not mock_aws, which would wipe its tables under other tests).
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=OUTPUTS["ConsoleBucketName"])
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    assert console_config.main(["deploy", "--outputs", str(outputs), "--region", "us-east-1"]) == 0
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=OUTPUTS["ConsoleBucketName"])["Contents"]}
    assert {"index.html", "styles.css", "js/app.js", "js/auth.js", "config.json"} <= keys
    config = s3.get_object(Bucket=OUTPUTS["ConsoleBucketName"], Key="config.json")
    assert config["ContentType"] == "application/json" and config["CacheControl"] == "no-cache"
    assert json.loads(config["Body"].read())["mode"] == "cognito"
    script = s3.head_object(Bucket=OUTPUTS["ConsoleBucketName"], Key="js/app.js")
    assert script["ContentType"] == "text/javascript"


def test_the_console_app_client_in_the_template_fits_the_console():
    """template.yaml: the console's app client is a public code-flow client whose callback is the
    console's root, the JWT authorizer accepts its tokens, and CORS allows its origin."""
    from rostersync_tools.local.template_resources import load_template

    resources = load_template()["Resources"]
    client = resources["ConsoleUserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False and client["AllowedOAuthFlows"] == ["code"]
    assert "openid" in client["AllowedOAuthScopes"] and "custom:role" in client["ReadAttributes"]
    authorizer = resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]["CognitoJwt"]["JwtConfiguration"]
    assert {"Ref": "ConsoleUserPoolClient"} in authorizer["audience"]
    assert "ConsoleDistribution.DomainName" in json.dumps(resources["HttpApi"]["Properties"]["CorsConfiguration"])
    distribution = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert distribution["Origins"][0]["OriginAccessControlId"]
    bucket = resources["ConsoleBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert all(bucket.values())
    headers = resources["ConsoleHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert "script-src 'self'" in json.dumps(headers["ContentSecurityPolicy"])
