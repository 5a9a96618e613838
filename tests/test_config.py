"""Settings: every one has a type and a valid range, checked as set and again before serving."""

from dataclasses import fields

import pytest

from tcpchat.config import RANGES, ConfigError, Settings


def test_every_numeric_setting_has_a_range():
    numeric = {f.name for f in fields(Settings) if f.type in ("int", "float")}
    assert numeric, "the settings' annotations changed shape"
    assert numeric <= set(RANGES), f"no range for {sorted(numeric - set(RANGES))}"
    assert set(RANGES) <= {f.name for f in fields(Settings)}


def test_the_defaults_are_in_range():
    Settings().check()


def test_check_refuses_what_was_built_around_the_checks():
    """A reload builds settings anew; `check` is the one place that judges a whole set."""
    with pytest.raises(ConfigError, match=r"^port = 70000: must be between 0 and 65535$"):
        Settings(port=70000).check()
    with pytest.raises(ConfigError, match=r"^default_channel = \"#lobby\" is longer than"):
        Settings(channel_length=4).check()


def test_updated_names_where_the_value_came_from():
    with pytest.raises(ConfigError, match=r"^reload\.toml: kick_length = 0: must be between 1 "):
        Settings().updated({"kick_length": 0}, origin="reload.toml")
    settings = Settings().updated({"ping_timeout": 5, "max_connections_per_address": 0})
    assert settings.ping_timeout == 5.0 and isinstance(settings.ping_timeout, float)
