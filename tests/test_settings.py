from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tradewind.domain import Timeframe
from tradewind.settings import DEFAULT_SYMBOLS, Settings, describe_settings_error


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.database_url == "sqlite:///./var/tradewind.db"
    assert settings.symbols == list(DEFAULT_SYMBOLS) and settings.timeframes == list(Timeframe)
    assert (settings.feed, settings.buffer_size) == ("synthetic", 1000)


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TRADEWIND_BUFFER_SIZE=64\nTRADEWIND_FEED=replay\n")
    monkeypatch.setenv("TRADEWIND_SYMBOLS", "btc/usdt, eth-usdt,BTCUSDc")
    monkeypatch.setenv("TRADEWIND_TIMEFRAMES", "H1,1m,m5,1h")
    monkeypatch.setenv("TRADEWIND_OUTCOME_HORIZONS", '{"H1": 43200, "5m": 600}')
    settings = Settings()
    assert settings.outcome_horizons == {Timeframe.H1: 43200, Timeframe.M5: 600}
    assert settings.symbols == ["BTCUSDT", "ETHUSDT", "BTCUSDc"]
    assert settings.timeframes == [Timeframe.M1, Timeframe.M5, Timeframe.H1]
    assert (settings.buffer_size, settings.feed) == (64, "replay")


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("TRADEWIND_BUFFER_SIZE", "5", "TRADEWIND_BUFFER_SIZE"),
        ("TRADEWIND_TIMEFRAMES", "1m,3m", "'3m'"),
        ("TRADEWIND_SYMBOLS", "BTC$", "TRADEWIND_SYMBOLS"),
        ("TRADEWIND_DATABASE_URL", "mysql://x", "TRADEWIND_DATABASE_URL"),
        ("TRADEWIND_FEED", "mt5", "TRADEWIND_FEED"),
        ("TRADEWIND_PORT", "99999", "TRADEWIND_PORT"),
        ("TRADEWIND_OUTCOME_HORIZONS", '{"1h": -5}', "TRADEWIND_OUTCOME_HORIZONS"),
        ("TRADEWIND_OUTCOME_HORIZONS", '{"2h": 60}', "'2h'"),
    ],
)
def test_invalid_settings_are_described_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, needle: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    line = describe_settings_error(info.value)
    assert "\n" not in line and line.startswith(f"invalid setting {name}") and needle in line
