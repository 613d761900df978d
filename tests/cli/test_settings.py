"""cli.settings: every SHIPBOT_* variable read in one place, with the defaults each command relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cli.settings import OperatorSettings, Settings, settings_problems

VARIABLES = [
    "SHIPBOT_CONFIG", "SHIPBOT_DATA_DIR", "SHIPBOT_LOG_FORMAT", "SHIPBOT_LOG_LEVEL", "SHIPBOT_DEMO_DIR",
    "SHIPBOT_DEMO_PORT", "SHIPBOT_MODE", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "XDG_DATA_HOME",
]  # fmt: skip


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {},
            ("shipbot.yml", ["shipbot.yml"], "home/.local/share/shipbot", None, None, ".shipbot-data/demo", None),
            id="defaults",
        ),
        pytest.param(
            {"XDG_DATA_HOME": "{tmp}/xdg"},
            ("shipbot.yml", ["shipbot.yml"], "xdg/shipbot", None, None, ".shipbot-data/demo", None),
            id="xdg-data-home",
        ),
        pytest.param(
            {"SHIPBOT_DATA_DIR": "~/state"},
            ("shipbot.yml", ["shipbot.yml"], "home/state", None, None, ".shipbot-data/demo", None),
            id="data-dir-expands-home",
        ),
        pytest.param(
            {"SHIPBOT_CONFIG": "a.yml, b.yml"},
            ("a.yml", ["a.yml", "b.yml"], "home/.local/share/shipbot", None, None, ".shipbot-data/demo", None),
            id="several-configs",
        ),
        pytest.param(
            {"SHIPBOT_LOG_FORMAT": "console", "SHIPBOT_LOG_LEVEL": "debug"},
            (
                "shipbot.yml",
                ["shipbot.yml"],
                "home/.local/share/shipbot",
                "console",
                "debug",
                ".shipbot-data/demo",
                None,
            ),
            id="logs",
        ),
        pytest.param(
            {"SHIPBOT_DEMO_DIR": "/d", "SHIPBOT_DEMO_PORT": "0"},
            ("shipbot.yml", ["shipbot.yml"], "home/.local/share/shipbot", None, None, "/d", 0),
            id="demo",
        ),
    ],
)
def test_operator_settings_from_the_environment(
    environment: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], expected: tuple[object, ...]
) -> None:
    for name, value in env.items():
        environment.setenv(name, value.format(tmp=tmp_path))
    s = OperatorSettings()
    data_dir = s.data_dir.relative_to(tmp_path) if s.data_dir.is_relative_to(tmp_path) else s.data_dir
    actual = (s.first_config, s.config_files, str(data_dir), s.log_format, s.log_level, str(s.demo_dir), s.demo_port)
    assert expected == actual


def test_the_bot_settings_share_the_operator_settings_and_keep_their_own_log_defaults(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environment.setenv("SHIPBOT_DATA_DIR", str(tmp_path / "state"))
    s = Settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1")
    assert (tmp_path / "state", "auto", "INFO") == (s.data_dir, s.log_format, s.log_level)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, ["SLACK_BOT_TOKEN is not set: see .env.example"], id="no-token"),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            ["SLACK_APP_TOKEN is required in Socket Mode (an xapp- token with connections:write)"],
            id="socket-mode-needs-the-app-token",
        ),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SHIPBOT_MODE": "http"},
            ["SLACK_SIGNING_SECRET is required in HTTP mode (SHIPBOT_MODE=http)"],
            id="http-mode-needs-the-signing-secret",
        ),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SHIPBOT_DEMO_PORT": "-1"},
            ["SHIPBOT_DEMO_PORT: Input should be greater than or equal to 0"],
            id="bad-number",
        ),
    ],
)
def test_each_settings_problem_is_one_line_naming_the_variable(
    environment: pytest.MonkeyPatch, env: dict[str, str], expected: list[str]
) -> None:
    for name, value in env.items():
        environment.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert expected == settings_problems(caught.value)
