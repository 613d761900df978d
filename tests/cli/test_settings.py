"""cli.settings: every SHIPBOT_* variable read in one place, with the defaults each command relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cli.bot_settings import Settings
from cli.main import main
from cli.settings import OperatorSettings, settings_problems

VARIABLES = [
    "SHIPBOT_CONFIG", "SHIPBOT_DATA_DIR", "SHIPBOT_LOG_FORMAT", "SHIPBOT_LOG_LEVEL", "SHIPBOT_DEMO_DIR",
    "SHIPBOT_DEMO_PORT", "SHIPBOT_MODE", "SHIPBOT_DATABASE_URL", "SHIPBOT_DB_STATEMENT_TIMEOUT", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "XDG_DATA_HOME",
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


BOT_TOKEN = (
    "SLACK_BOT_TOKEN is not set (or empty) in the environment: set it to the bot token (xoxb-...) from your Slack "
    "app's OAuth & Permissions page; see .env.example"
)
APP_TOKEN = (
    "SLACK_APP_TOKEN is not set (or empty) in the environment: set it to an app-level token (xapp-...) with "
    "connections:write; Socket Mode (the default) needs it; see .env.example"
)
SIGNING_SECRET = (
    "SLACK_SIGNING_SECRET is not set (or empty) in the environment: set it to the signing secret from your Slack "
    "app's Basic Information page; HTTP mode (SHIPBOT_MODE=http) needs it; see .env.example"
)

WEBHOOK_SECRET = (
    "SHIPBOT_WEBHOOK_SECRET_GITHUB is not set (or empty) in the environment: set it to the secret your GitHub "
    "webhooks are configured with (or set SHIPBOT_WEBHOOK_SECRET_GITLAB or SHIPBOT_WEBHOOK_SECRET_GITEA for those "
    "forges); SHIPBOT_WEBHOOK_PORT needs the secret of at least one forge; see .env.example"
)


def test_webhooks_are_off_unless_a_port_is_set_and_their_secret_is_never_shown(
    environment: pytest.MonkeyPatch,
) -> None:
    for name, value in {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}.items():
        environment.setenv(name, value)
    assert (None, "127.0.0.1") == (Settings().webhook_port, Settings().webhook_host)
    environment.setenv("SHIPBOT_WEBHOOK_PORT", "9103")
    environment.setenv("SHIPBOT_WEBHOOK_SECRET", "hunter2-webhook")
    settings = Settings()
    assert 9103 == settings.webhook_port
    assert {"github": "hunter2-webhook", "gitea": "hunter2-webhook"} == settings.webhook_secrets
    assert "hunter2-webhook" not in repr(settings) + str(settings)


@pytest.mark.parametrize(
    ("env", "secrets", "warned"),
    [
        pytest.param({"SHIPBOT_WEBHOOK_SECRET_GITLAB": "t0ken"}, {"gitlab": "t0ken"}, False, id="gitlab-only"),
        pytest.param(
            {"SHIPBOT_WEBHOOK_SECRET_GITHUB": "gh", "SHIPBOT_WEBHOOK_SECRET_GITLAB": "gl",
             "SHIPBOT_WEBHOOK_SECRET_GITEA": "ge"},
            {"github": "gh", "gitlab": "gl", "gitea": "ge"}, False, id="one-each",
        ),
        pytest.param(
            {"SHIPBOT_WEBHOOK_SECRET": "shared"}, {"github": "shared", "gitea": "shared"}, True,
            id="the-shared-secret-never-becomes-gitlabs-token",
        ),
        pytest.param(
            {"SHIPBOT_WEBHOOK_SECRET": "shared", "SHIPBOT_WEBHOOK_SECRET_GITHUB": "gh"},
            {"github": "gh", "gitea": "shared"}, True, id="a-forges-own-secret-wins",
        ),
    ],
)  # fmt: skip
def test_each_forge_has_its_own_webhook_secret_and_the_shared_one_keys_only_the_hmac_forges(
    environment: pytest.MonkeyPatch, env: dict[str, str], secrets: dict[str, str], warned: bool
) -> None:
    for name, value in {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SHIPBOT_WEBHOOK_PORT": "0",
                        **env}.items():  # fmt: skip
        environment.setenv(name, value)
    settings = Settings()
    warning = settings.webhook_warning or ""
    assert (secrets, warned) == (settings.webhook_secrets, "SHIPBOT_WEBHOOK_SECRET_GITLAB" in warning)
    assert all(secret not in warning for secret in secrets.values())


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, [BOT_TOKEN, APP_TOKEN], id="nothing-set-one-line-each"),
        pytest.param({"SLACK_BOT_TOKEN": "xoxb-1"}, [APP_TOKEN], id="socket-mode-needs-the-app-token"),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SHIPBOT_MODE": "http"}, [SIGNING_SECRET], id="http-needs-the-secret"
        ),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SHIPBOT_MODE": "http", "SLACK_SIGNING_SECRET": ""},
            [SIGNING_SECRET],
            id="an-empty-signing-secret-is-missing",
        ),
        pytest.param(
            {"SLACK_BOT_TOKEN": "  ", "SLACK_APP_TOKEN": ""}, [BOT_TOKEN, APP_TOKEN], id="blank-tokens-are-missing"
        ),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SHIPBOT_DEMO_PORT": "-1"},
            [
                "SHIPBOT_DEMO_PORT in the environment is invalid (Input should be greater than or equal to 0): "
                "fix or unset it; see .env.example"
            ],
            id="bad-number",
        ),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SHIPBOT_WEBHOOK_PORT": "9103"},
            [WEBHOOK_SECRET],
            id="webhooks-need-their-secret",
        ),
        pytest.param(
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_APP_TOKEN": "xapp-1",
                "SHIPBOT_WEBHOOK_PORT": "9103",
                "SHIPBOT_WEBHOOK_SECRET": " ",
            },
            [WEBHOOK_SECRET],
            id="a-blank-webhook-secret-is-missing",
        ),
        pytest.param(
            {"SHIPBOT_DEMO_PORT": "x"},
            [
                "SHIPBOT_DEMO_PORT in the environment is invalid (Input should be a valid integer, unable to parse "
                "string as an integer): fix or unset it; see .env.example",
                BOT_TOKEN,
                APP_TOKEN,
            ],
            id="every-problem-at-once",
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


def test_an_empty_data_dir_is_the_default_not_the_working_directory(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SHIPBOT_DATA_DIR", "")

    assert OperatorSettings().data_dir == Path.home() / ".local" / "share" / "shipbot"


def test_shipbot_run_stops_at_start_with_one_line_per_bad_setting(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("SHIPBOT_MODE", "http")
    environment.setenv("SLACK_SIGNING_SECRET", "")

    assert 2 == main(["run"])

    assert [f"shipbot: {BOT_TOKEN}", f"shipbot: {SIGNING_SECRET}"] == capsys.readouterr().err.splitlines()


def test_the_env_example_is_a_template_whose_values_are_all_valid(environment: pytest.MonkeyPatch) -> None:
    """Every uncommented line of .env.example is a valid setting; required ones are filled with placeholders."""
    example = Path(__file__).resolve().parents[2] / ".env.example"
    values = dict(
        line.split("=", 1) for line in example.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    assert all(v.strip() for v in values.values()), "no empty values: an empty line would be read as missing"
    for name, value in values.items():
        environment.setenv(name, value)

    settings = Settings()

    assert settings.mode == "socket" and settings.slack_app_token is not None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(None, None, id="unset-is-sqlite"),
        pytest.param("", None, id="empty-is-unset"),
        pytest.param("postgresql://sb:pw@db/shipbot", "postgresql+psycopg://sb:pw@db/shipbot", id="postgresql"),
        pytest.param("postgresql+asyncpg://sb:pw@db/shipbot", "postgresql+psycopg://sb:pw@db/shipbot", id="asyncpg"),
    ],
)
def test_the_database_url_is_read_and_normalised(
    environment: pytest.MonkeyPatch, url: str | None, expected: str | None
) -> None:
    if url is not None:
        environment.setenv("SHIPBOT_DATABASE_URL", url)
    assert expected == OperatorSettings().database


def test_the_database_url_is_a_secret_shown_only_with_its_password_masked(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SHIPBOT_DATABASE_URL", "postgresql://shipbot:hunter2-pw@db:5432/shipbot")
    settings = OperatorSettings()
    assert ("postgresql+psycopg://shipbot:***@db:5432/shipbot", False) == (
        settings.database_shown,
        "hunter2-pw" in repr(settings) + str(settings.model_dump()),
    )


def test_a_database_url_shipbot_does_not_run_on_is_one_line_naming_the_variable(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("SHIPBOT_DATABASE_URL", "mysql://root:pw@db/shipbot")
    assert 2 == main(["history", "staging"])
    err = capsys.readouterr().err
    assert err.startswith("shipbot: SHIPBOT_DATABASE_URL in the environment is invalid (uses 'mysql'")
    assert 1 == len(err.splitlines()) and "pw" not in err.replace("postgresql://user:password", "")


def test_the_store_is_opened_with_the_statement_timeout_of_the_environment(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cli.reading import open_store

    default = OperatorSettings().statement_timeout
    environment.setenv("SHIPBOT_DB_STATEMENT_TIMEOUT", "1.5")
    store = open_store(OperatorSettings(), tmp_path / "data")
    try:
        assert (5.0, 1.5) == (default, store.db.statement_timeout)
    finally:
        store.close()


@pytest.mark.parametrize("value", ["0", "-1", "soon", "61"])
def test_a_statement_timeout_that_is_not_a_positive_number_of_seconds_is_one_line(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    environment.setenv("SHIPBOT_DB_STATEMENT_TIMEOUT", value)
    assert 2 == main(["history", "staging"])
    err = capsys.readouterr().err
    assert err.startswith("shipbot: SHIPBOT_DB_STATEMENT_TIMEOUT in the environment is invalid (")
    assert 1 == len(err.splitlines())
