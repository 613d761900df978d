"""``deploy ... --dry-run`` and ``plan ...``: a deploy asked to show what it would do (pure)."""

from __future__ import annotations

import pytest

from commands.command import Deploy
from commands.errors import CommandError
from commands.grammar import parse
from tests.commands.helpers import ONE_APP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deploy main to production --dry-run", Deploy("shop", "production", "main", dry_run=True)),
        ("deploy --dry-run main to prod", Deploy("shop", "production", "main", dry_run=True)),
        ("deploy main to production \u2014dry-run", Deploy("shop", "production", "main", dry_run=True)),
        ("deploy main to production --DRY-RUN", Deploy("shop", "production", "main", dry_run=True)),
        ("plan main to production", Deploy("shop", "production", "main", dry_run=True)),
        ("plan feature/x to staging/web", Deploy("shop", "staging", "feature/x", "web", dry_run=True)),
        ("PLAN v1.4.2 in prod", Deploy("shop", "production", "v1.4.2", dry_run=True)),
        ("deploy! main to production --dry-run", Deploy("shop", "production", "main", force=True, dry_run=True)),
        ("/deploy main to staging --dry-run", Deploy("shop", "staging", "main", dry_run=True)),
        ("deploy main to production", Deploy("shop", "production", "main")),
    ],
)
def test_a_dry_run_reads_like_the_deploy_it_shows(text: str, expected: Deploy) -> None:
    assert parse(text, ONE_APP) == expected


def test_plan_alone_asks_what_and_where() -> None:
    with pytest.raises(CommandError) as err:
        parse("plan", ONE_APP)
    assert "where" in err.value.message
