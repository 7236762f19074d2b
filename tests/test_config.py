"""Configuration: one place reads the environment, checks every value, never shows a secret, and
documents itself (the README's table is generated from it)."""

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.cli import main
from dt_platform.config import (
    EXTERNAL_VARIABLES,
    ConfigError,
    Settings,
    describe,
    load_settings,
    markdown_table,
    variables,
)

README = Path(__file__).resolve().parents[1] / "README.md"
KEY = "0x" + "ab" * 32


def test_defaults_work_on_a_fresh_clone(tmp_path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.home == tmp_path.resolve()
    assert settings.chain_rpc is None and settings.effective_chain_rpc == "http://127.0.0.1:8545"
    assert settings.ipfs_api is None and settings.chain_key is None and settings.wallet_key is None
    assert settings.partitions_start == dt.date(2026, 1, 1) and settings.freshness_hours == 26.0
    assert settings.dashboard_url == "http://localhost:8501"
    assert settings.machine_registry_path == tmp_path.resolve() / "machines.yaml"
    assert settings.from_environment == frozenset()


def test_every_variable_is_read_and_typed(tmp_path) -> None:
    environ = {
        "DT_HOME": str(tmp_path / "h"),
        "DT_REGISTRY": str(tmp_path / "reg.yaml"),
        "DT_CHAIN_RPC": "https://rpc.example.org",
        "DT_CHAIN_PORT": " 9545 ",
        "DT_CHAIN_KEY": KEY,
        "DT_IPFS_API": "/ip4/127.0.0.1/tcp/5001/http",
        "DT_PARTITIONS_START": "2025-06-01",
        "DT_FRESHNESS_HOURS": "4.5",
        "DT_DASHBOARD_URL": "https://twin.example.org",
        "DT_WALLET_KEY": KEY,
        "DT_ANCHOR_CONFIRMATIONS": "3",
        "DT_BACKFILL_DAYS": "0",
        "DT_FUTURE_HOURS": "0.5",
        "DT_MAX_DUMP_MB": "64",
        "DT_MQTT_URL": "mqtts://broker.example.org:8883",
        "DT_MQTT_PORT": "1999",
        "DT_MQTT_USER": "twin",
        "DT_MQTT_PASSWORD": "s3cret",
        "DT_MQTT_GROUP": "plant-2",
        "DT_WEBHOOK_URLS": "https://hooks.example.org/a, http://10.0.0.5:8080/b",
        "DT_WEBHOOK_SECRET": "hook-key",
        "DT_SMTP_URL": "smtps://mail.example.org:465",
        "DT_SMTP_USER": "twin",
        "DT_SMTP_PASSWORD": "mail-pass",
        "DT_REPORT_FROM": "twin@plant.example.org",
        "DT_REPORT_TO": "manager@plant.example.org, qc@plant.example.org",
    }
    settings = load_settings(environ=environ)
    assert settings.home == tmp_path / "h" and settings.registry_path == tmp_path / "reg.yaml"
    assert settings.chain_rpc == "https://rpc.example.org" and settings.chain_port == 9545
    assert settings.chain_key == KEY == settings.wallet_key
    assert settings.ipfs_api == "/ip4/127.0.0.1/tcp/5001/http"
    assert settings.partitions_start == dt.date(2025, 6, 1) and settings.freshness_hours == 4.5
    assert settings.dashboard_url == "https://twin.example.org"
    assert settings.anchor_confirmations == 3
    assert (settings.backfill_days, settings.future_hours, settings.max_dump_mb) == (0, 0.5, 64)
    assert settings.effective_mqtt_url == "mqtts://broker.example.org:8883"
    assert (settings.mqtt_port, settings.mqtt_user, settings.mqtt_group) == (
        1999,
        "twin",
        "plant-2",
    )
    assert settings.mqtt_password == "s3cret" and settings.webhook_secret == "hook-key"
    assert settings.webhook_urls.startswith("https://hooks.example.org/a")
    assert (settings.smtp_url, settings.smtp_user) == ("smtps://mail.example.org:465", "twin")
    assert settings.smtp_password == "mail-pass" and "mail-pass" not in repr(settings)
    assert settings.report_from == "twin@plant.example.org"
    assert settings.report_to == "manager@plant.example.org, qc@plant.example.org"
    assert settings.from_environment == {f.name for f in variables()}
    # an explicit home wins over DT_HOME, and then home is not "from the environment"
    explicit = load_settings(tmp_path / "other", environ=environ)
    assert explicit.home == tmp_path / "other" and "home" not in explicit.from_environment


def test_empty_values_mean_the_default(tmp_path) -> None:
    environ = {f.metadata["env"]: "  " for f in variables() if f.name != "home"}
    assert load_settings(tmp_path, environ=environ) == load_settings(tmp_path, environ={})


def test_every_bad_value_is_named_at_once_and_secrets_are_not_shown(tmp_path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            tmp_path,
            environ={
                "DT_CHAIN_PORT": "85x5",
                "DT_CHAIN_RPC": "ftp://node",
                "DT_PARTITIONS_START": "2026-13-01",
                "DT_FRESHNESS_HOURS": "-2",
                "DT_DASHBOARD_URL": "localhost:8501",
            },
        )
    message = str(caught.value)
    for name in (
        "DT_CHAIN_PORT='85x5'",
        "DT_CHAIN_RPC='ftp://node'",
        "DT_PARTITIONS_START='2026-13-01'",
        "DT_FRESHNESS_HOURS='-2'",
        "DT_DASHBOARD_URL='localhost:8501'",
    ):
        assert name in message
    for port in ("0", "65536", "nan"):
        with pytest.raises(ConfigError, match="port number from 1 to 65535"):
            load_settings(tmp_path, environ={"DT_CHAIN_PORT": port})
    with pytest.raises(ConfigError, match="positive number"):
        load_settings(tmp_path, environ={"DT_FRESHNESS_HOURS": "inf"})
    for depth in ("0", "1.5", "10001"):
        with pytest.raises(ConfigError, match="whole number of blocks from 1 to 10000"):
            load_settings(tmp_path, environ={"DT_ANCHOR_CONFIRMATIONS": depth})
    for variable, text in (
        ("DT_BACKFILL_DAYS", "-1"),
        ("DT_BACKFILL_DAYS", "1e9"),
        ("DT_FUTURE_HOURS", "nan"),
        ("DT_FUTURE_HOURS", "9000"),
    ):
        with pytest.raises(ConfigError, match=f"{variable}='{text}' is not a number of"):
            load_settings(tmp_path, environ={variable: text})
    with pytest.raises(ConfigError, match="positive number of megabytes"):
        load_settings(tmp_path, environ={"DT_MAX_DUMP_MB": "0"})
    for variable, text in (
        ("DT_SMTP_URL", "http://mail.example.org"),
        ("DT_SMTP_URL", "smtp://"),
        ("DT_REPORT_FROM", "Twin <twin@plant.example.org>"),
        ("DT_REPORT_TO", "a@b.org, not an address"),
        ("DT_REPORT_TO", "a@b.org\r\nBcc: x@y.org"),
        ("DT_REPORT_TO", ",".join(f"m{i}@plant.example.org" for i in range(101))),
    ):
        with pytest.raises(ConfigError, match=variable):
            load_settings(tmp_path, environ={variable: text})


def test_secrets_never_show(tmp_path) -> None:
    settings = Settings(home=tmp_path, chain_key=KEY, wallet_key=KEY)
    assert KEY not in repr(settings)
    shown = dict(describe(settings))
    assert shown["DT_CHAIN_KEY"] == shown["DT_WALLET_KEY"] == "set (hidden)"
    assert KEY not in str(describe(settings))


def test_the_readme_table_is_generated_from_the_settings() -> None:
    table = markdown_table()
    assert table in README.read_text(encoding="utf-8"), (
        "README's configuration table differs from the settings: paste "
        "`dt-platform config --markdown` into it"
    )
    documented = {line.split("`")[1] for line in table.splitlines()[2:]}
    assert documented == {f.metadata["env"] for f in variables()} | set(EXTERNAL_VARIABLES)


def test_config_command_shows_the_settings_in_effect(tmp_path) -> None:
    runner = CliRunner()
    env = {"DT_HOME": str(tmp_path), "DT_CHAIN_KEY": KEY, "DT_CHAIN_PORT": "9545"}
    shown = runner.invoke(main, ["config"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "DT_CHAIN_PORT        9545" in shown.output and KEY not in shown.output
    assert runner.invoke(main, ["config", "--markdown"]).output.strip() == markdown_table()
    bad = runner.invoke(main, ["config"], env={"DT_CHAIN_PORT": "x"})
    assert bad.exit_code == 1 and "DT_CHAIN_PORT='x' is not a port number" in bad.output
