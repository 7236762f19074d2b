"""The resources a configuration means: one per system, real or local behind one interface, and
the chain key bound by variable name so the Dagster UI never shows it."""

from pathlib import Path

import dagster as dg
import pytest

from assets.resources import (
    ChainResource,
    ContentStoreResource,
    EmbeddedIpfsResource,
    KuboIpfsResource,
    LocalChainResource,
    RpcChainResource,
    platform_resources,
)
from dt_platform.config import Settings, load_settings
from dt_platform.trust.ipfs import EmbeddedIpfs, KuboIpfs

KEY = "0x" + "ab" * 32


def test_a_fresh_clone_means_the_local_chain_and_the_embedded_store(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chain_port=9545)
    resources = platform_resources(settings)
    assert set(resources) == {
        "warehouse", "landing", "models", "content_store", "chain", "twin_store",
        "webhooks", "reports", "mail",
    }  # fmt: skip
    assert resources["reports"].reports_dir == tmp_path / "reports"
    assert resources["mail"].settings() is None  # no server, no recipients: not mailed
    assert resources["twin_store"].path == str(tmp_path / "twin.sqlite")
    assert resources["warehouse"].path == str(tmp_path / "warehouse.duckdb")
    assert resources["landing"].registry_path == tmp_path / "machines.yaml"
    assert resources["models"].models_dir == tmp_path / "models"
    store, chain = resources["content_store"], resources["chain"]
    assert isinstance(store, EmbeddedIpfsResource) and store.staging_dir == tmp_path / "snapshots"
    assert isinstance(store.open(), EmbeddedIpfs)
    assert isinstance(chain, LocalChainResource)
    assert chain.settings().effective_chain_rpc == "http://127.0.0.1:9545"
    assert chain.settings().deployment_path == tmp_path / "deployment.json"


def test_real_infrastructure_by_configuration(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path,
        environ={
            "DT_CHAIN_RPC": "https://rpc.example.org",
            "DT_IPFS_API": "/ip4/127.0.0.1/tcp/5001/http",
            "DT_REGISTRY": str(tmp_path / "elsewhere.yaml"),
        },
    )
    resources = platform_resources(settings)
    store, chain = resources["content_store"], resources["chain"]
    assert isinstance(store, KuboIpfsResource) and isinstance(store.open(), KuboIpfs)
    assert isinstance(chain, RpcChainResource) and chain.url == "https://rpc.example.org"
    assert chain.settings().chain_rpc == "https://rpc.example.org" and chain.key is None
    assert resources["landing"].registry_path == tmp_path / "elsewhere.yaml"


def test_the_chain_key_is_bound_by_name_and_resolved_in_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DT_CHAIN_KEY", KEY)
    resources = platform_resources(load_settings(tmp_path))
    chain = resources["chain"]
    assert isinstance(chain.key, dg.EnvVar) and chain.key.env_var_name == "DT_CHAIN_KEY"
    assert KEY not in repr(chain)
    seen = {}

    @dg.asset
    def uses_the_chain(chain: ChainResource, content_store: ContentStoreResource) -> None:
        seen["key"] = chain.settings().chain_key
        seen["store"] = type(content_store).__name__

    assert dg.materialize([uses_the_chain], resources=resources).success
    assert seen == {"key": KEY, "store": "EmbeddedIpfsResource"}
    # a key given directly (a test's or the demo's Settings) is used as it is
    direct = platform_resources(Settings(home=tmp_path, chain_key=KEY))["chain"]
    assert direct.key == KEY
