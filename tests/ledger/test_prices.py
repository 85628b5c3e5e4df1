"""``[prices."provider/model"]`` in config wins over the catalog; unpriced stays unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from superllmd.config import ConfigStore, Settings
from superllmd.errors import ConfigError
from superllmd.providers.base import TokenUsage
from superllmd.state import DaemonState

USAGE = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000, cached_tokens=500_000)


def _state(tmp_path: Path, config: str) -> tuple[DaemonState, Settings]:
    home = tmp_path
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(config)
    from superllmd.paths import get_paths

    paths = get_paths({"SUPERLLM_HOME": str(home)})
    state = DaemonState.create(paths, load_entry_points=True, use_keyring=False, open_ledger=False)
    return state, state.settings({})


def test_an_override_prices_an_unlisted_model(tmp_path: Path) -> None:
    state, settings = _state(
        tmp_path,
        '[providers.mylab]\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[prices."mylab/qwen"]\ninput = 2.0\noutput = 6.0\ncached_input = 0.5\n',
    )
    (target,) = state.targets("mylab/qwen", settings, {})
    # 0.5M uncached at $2 + 0.5M cached at $0.5 + 1M out at $6
    assert target.provider.estimate_cost("qwen", USAGE) == pytest.approx(1.0 + 0.25 + 6.0)
    (other,) = state.targets("mylab/other", settings, {})
    assert other.provider.estimate_cost("other", USAGE) is None  # unpriced, not free


def test_an_override_wins_over_the_catalog(tmp_path: Path) -> None:
    state, settings = _state(tmp_path, "")
    (listed,) = state.targets("openai/gpt-4.1-mini", settings, {})
    catalog_cost = listed.provider.estimate_cost("gpt-4.1-mini", USAGE)
    assert catalog_cost is not None and catalog_cost > 0
    state, settings = _state(
        tmp_path / "b", '[prices."openai/gpt-4.1-mini"]\ninput = 1.0\noutput = 1.0\n'
    )
    (target,) = state.targets("openai/gpt-4.1-mini", settings, {})
    # Without cached_input the cached tokens cost the input price.
    assert target.provider.estimate_cost("gpt-4.1-mini", USAGE) == pytest.approx(2.0)


def test_a_price_needs_provider_and_model(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[prices.openai]\ninput = 1.0\noutput = 1.0\n")
    with pytest.raises(ConfigError, match="provider/model"):
        ConfigStore(path).get({})
    path.write_text('[prices."a/b"]\ninput = -1.0\noutput = 1.0\n')
    with pytest.raises(ConfigError, match=r"prices\.a/b\.input"):
        ConfigStore(path).get({})
