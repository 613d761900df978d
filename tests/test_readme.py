"""The README's config reference is generated from the config models; it must not drift."""

from __future__ import annotations

from pathlib import Path

from tools.config_reference import BEGIN, END, reference

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_config_reference_matches_the_config_models() -> None:
    text = README.read_text()
    shown = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert reference() == shown, "run: python -m tools.config_reference --write README.md"


def test_every_contract_key_of_the_config_is_documented() -> None:
    text = README.read_text()
    for key in [
        "`keep_releases`",
        "`ssh.connect_concurrency`",
        "`ssh.jump_host`",
        "`pipeline.transfer`",
        "`pipeline.healthcheck.retries`",
        "`environments.<name>.hosts[].deploy_to`",
        "`tasks.<name>.run`",
    ]:
        assert key in text
