"""The console's config.json: the one thing that differs between environments.

The console's code never changes per environment; it reads /config.json on load:
  {"mode": "local" | "cognito", "apiUrl": "...",
   "cognito": {"domain", "clientId", "redirectUri", "scopes"},          (mode cognito)
   "local": {"signInPath", "sisHostUrl", "sisClientId"}}                (mode local)
Locally the console server generates it; deployed, `rostersync console config --stack NAME`
builds it from the stack's CloudFormation outputs (ApiUrl, ConsoleUrl, ConsoleUserPoolClientId,
UserPoolHostedUiDomain) and prints or uploads it.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path

DEFAULT_STACK = "rostersync-dev"
# The scopes the console asks the hosted UI for: openid gives the ID token (the bearer).
SCOPES = ("openid", "email", "profile")
REQUIRED_OUTPUTS = ("ApiUrl", "ConsoleUrl", "ConsoleUserPoolClientId", "UserPoolHostedUiDomain")
LOCAL_SIGN_IN_PATH = "/local/token"  # served by the local console server only


def local_config(api_url: str, sis_host_url: str | None = None) -> dict:
    sandbox_client_id = None
    if sis_host_url:
        from rostersync_tools.sandbox_sis.config import DEFAULT_CLIENT_ID

        sandbox_client_id = DEFAULT_CLIENT_ID
    return {
        "mode": "local",
        "apiUrl": api_url.rstrip("/"),
        # A hint for the local sandbox only (never a secret: the sandbox README has that).
        "local": {"signInPath": LOCAL_SIGN_IN_PATH, "sisHostUrl": sis_host_url, "sisClientId": sandbox_client_id},
    }


def cognito_config(api_url: str, hosted_ui_domain: str, client_id: str, console_url: str) -> dict:
    domain = hosted_ui_domain if hosted_ui_domain.startswith("https://") else f"https://{hosted_ui_domain}"
    return {
        "mode": "cognito",
        "apiUrl": api_url.rstrip("/"),
        "cognito": {
            "domain": domain.rstrip("/"),
            "clientId": client_id,
            # The console's root is its callback: the page itself takes ?code= (no other route to serve).
            "redirectUri": console_url.rstrip("/") + "/",
            "scopes": list(SCOPES),
        },
    }


def config_from_outputs(outputs: dict[str, str]) -> dict:
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise ValueError(f"the stack has no output {', '.join(missing)} (deploy the current template.yaml)")
    return cognito_config(
        outputs["ApiUrl"], outputs["UserPoolHostedUiDomain"], outputs["ConsoleUserPoolClientId"], outputs["ConsoleUrl"]
    )


def stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    import boto3

    described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}


def upload(config: dict, outputs: dict[str, str], region: str | None) -> str:
    import boto3

    bucket = outputs.get("ConsoleBucketName")
    if not bucket:
        raise ValueError("the stack has no output ConsoleBucketName")
    boto3.client("s3", region_name=region).put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(config, indent=2).encode(),
        ContentType="application/json",
        CacheControl="no-cache",
    )
    return f"s3://{bucket}/config.json"


CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
# index.html and config.json are read fresh on every visit; the modules may be cached briefly
# (a deploy also invalidates CloudFront's copies).
_NO_CACHE = {"index.html", "config.json"}


def console_files(directory: Path = CONSOLE_DIR) -> list[tuple[Path, str]]:
    """Every file of the console and its key in the bucket (no config.json: that is generated)."""
    return sorted(
        (path, path.relative_to(directory).as_posix())
        for path in directory.rglob("*")
        if path.is_file() and path.name != "config.json"
    )


def deploy(outputs: dict[str, str], region: str | None, directory: Path = CONSOLE_DIR) -> list[str]:
    """Upload the console's files and its config.json to the stack's bucket, then invalidate
    CloudFront's cached copies. Returns the keys written."""
    import boto3

    config = config_from_outputs(outputs)
    bucket = outputs.get("ConsoleBucketName")
    if not bucket:
        raise ValueError("the stack has no output ConsoleBucketName")
    s3 = boto3.client("s3", region_name=region)
    written = []
    for path, key in console_files(directory):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=content_type,
            CacheControl="no-cache" if key in _NO_CACHE else "max-age=300",
        )
        written.append(key)
    written.append(upload(config, outputs, region).rsplit("/", 1)[-1])
    distribution = outputs.get("ConsoleDistributionId")
    if distribution:
        boto3.client("cloudfront").create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time())},
        )
    return written


def _read_outputs(args) -> dict[str, str]:
    if args.outputs:
        with open(args.outputs, encoding="utf-8") as file:
            raw = json.load(file)
        return {o["OutputKey"]: o["OutputValue"] for o in raw} if isinstance(raw, list) else raw
    return stack_outputs(args.stack, args.region)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rostersync console", description="The district admin console's deploy helpers."
    )
    commands = parser.add_subparsers(dest="console_command", metavar="subcommand", required=True)
    config = commands.add_parser("config", help="print (or --upload) the deployed console's config.json")
    deploy_command = commands.add_parser(
        "deploy", help="upload console/ and its config.json to the stack's bucket; invalidate CloudFront"
    )
    for command in (config, deploy_command):
        command.add_argument(
            "--stack", default=DEFAULT_STACK, help=f"CloudFormation stack name (default {DEFAULT_STACK})"
        )
        command.add_argument("--region", default=None)
        command.add_argument(
            "--outputs",
            metavar="FILE",
            help="read the outputs from a JSON file ({OutputKey: OutputValue} or describe-stacks' "
            "Outputs list) instead of CloudFormation",
        )
    config.add_argument("--upload", action="store_true", help="write it to the stack's console bucket as config.json")
    args = parser.parse_args(argv)
    try:
        outputs = _read_outputs(args)
        built = config_from_outputs(outputs)
        if args.console_command == "deploy":
            written = deploy(outputs, args.region)
            print(f"uploaded {len(written)} files; open {outputs['ConsoleUrl']}", file=sys.stderr)
            return 0
        if args.upload:
            print(f"uploaded {upload(built, outputs, args.region)}", file=sys.stderr)
    except (ValueError, OSError, KeyError) as error:
        print(f"rostersync console: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # botocore's errors: no stack, no credentials, ...
        print(f"rostersync console: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(built, indent=2))
    return 0
