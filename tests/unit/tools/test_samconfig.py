"""samconfig.toml: `--config-env dev|prod` each carry everything a deploy needs."""

import tomllib
from pathlib import Path

import pytest

from rostersync_tools.local.template_resources import load_template

SAMCONFIG = tomllib.loads((Path(__file__).resolve().parents[3] / "samconfig.toml").read_text())
PARAMETERS = load_template()["Parameters"]


def _overrides(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_environment_deploys_as_written(env):
    config = SAMCONFIG[env]
    assert config["global"]["parameters"]["region"]
    assert config["global"]["parameters"]["stack_name"] == f"rostersync-{env}"
    assert config["build"]["parameters"]["template_file"] == "template.yaml"
    deploy = config["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True and deploy["s3_prefix"] == f"rostersync-{env}"
    overrides = _overrides(deploy["parameter_overrides"])
    assert overrides["Stage"] == env
    assert set(overrides) <= set(PARAMETERS), "an override names no template parameter"
    for name, value in overrides.items():
        allowed = PARAMETERS[name].get("AllowedValues")
        assert allowed is None or value in allowed


def test_prod_shows_the_change_set_before_executing_it():
    assert SAMCONFIG["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
