"""chalicefile.json is the one source of the Chalice stage config, and every variable it sets is
one the app reads (a typo would otherwise be silently ignored)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from chalicelib.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_chalice_config_is_the_chalicefile():
    config = ROOT / "functions" / ".chalice" / "config.json"
    assert config.is_symlink(), "functions/.chalice/config.json must link to chalicefile.json"
    assert config.resolve() == (ROOT / "chalicefile.json").resolve()


def test_stages_and_their_variables_are_known_settings():
    config = json.loads((ROOT / "chalicefile.json").read_text())
    assert {"local", "dev", "prod"} <= set(config["stages"])
    known = {f"AIRWAVES_{name.upper()}" for name in Settings.model_fields}
    secrets_local = {"AIRWAVES_JWT_DEV_SECRET", "AIRWAVES_CURSOR_SECRET"}
    for scope in [config, *list(config["stages"].values())]:
        for name in scope.get("environment_variables", {}):
            assert name.startswith("AIRWAVES_"), name
            assert name in known or name.endswith(("_KEY", "_SECRET")) or name in secrets_local, \
                f"{name} is set in chalicefile.json but no setting or secret reads it"


def test_deployed_stages_verify_jwks_and_carry_no_dev_secrets():
    config = json.loads((ROOT / "chalicefile.json").read_text())
    for stage in ("dev", "prod"):
        env = {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}
        assert env.get("AIRWAVES_AUTH_MODE") == "jwks"
        assert not any(k.endswith(("_SECRET", "_SECRET_KEY", "_API_KEY")) for k in env), stage


def test_python_version_is_set_once():
    version = (ROOT / ".python-version").read_text().strip()
    assert version == "3.11"
    assert f"{os.sys.version_info.major}.{os.sys.version_info.minor}" == version
