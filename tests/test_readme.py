"""The README's config reference is generated from the config models and its quickstart lists what the demo
suggests: neither may drift."""

from __future__ import annotations

from pathlib import Path

from demo.launch import first_commands
from tools.config_reference import BEGIN, END, reference
from tools.readme_contents import BEGIN as CONTENTS_BEGIN
from tools.readme_contents import END as CONTENTS_END
from tools.readme_contents import contents, headings

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


def test_the_readme_and_the_demo_suggest_the_same_first_commands() -> None:
    quickstart = README.read_text().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert f"```\n{first_commands()}\n```" in quickstart


def test_the_readme_lists_every_section_and_puts_the_commands_before_operations() -> None:
    text = README.read_text()
    shown = text[text.index(CONTENTS_BEGIN) + len(CONTENTS_BEGIN) : text.index(CONTENTS_END)].strip()
    assert contents(text) == shown, "run: python -m tools.readme_contents --write README.md"
    order = [title for _, title in headings(text)]
    operations = min(order.index(t) for t in ("Operating it", "Several replicas", "Upgrading with no gap", "Upgrading"))
    assert order.index("Commands in chat") < order.index("The command line") < operations
    assert order.index("Quickstart (60 seconds)") == 0
