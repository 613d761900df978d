"""The console script's warning filters: one dependency's warning class from that dependency's modules, nothing
wider."""

from __future__ import annotations

import warnings

import pytest
from cryptography.utils import CryptographyDeprecationWarning

from cli.quiet import quiet_dependency_warnings


@pytest.mark.parametrize(
    ("category", "module", "shown"),
    [
        pytest.param(CryptographyDeprecationWarning, "asyncssh.crypto.misc", False, id="asyncssh-dsa-quiet"),
        pytest.param(CryptographyDeprecationWarning, "asyncssh", False, id="asyncssh-top-quiet"),
        pytest.param(CryptographyDeprecationWarning, "deploy.hosts.ssh", True, id="raised-by-shipbot-shows"),
        pytest.param(CryptographyDeprecationWarning, "asyncsshx.other", True, id="look-alike-module-shows"),
        pytest.param(UserWarning, "asyncssh.connection", True, id="other-class-from-asyncssh-shows"),
        pytest.param(UserWarning, "deploy.run.engine", True, id="shipbots-own-warning-shows"),
    ],
)
def test_only_the_named_dependency_warning_is_quiet(category: type[Warning], module: str, shown: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()  # Python's defaults, not the test configuration's
        warnings.simplefilter("default")
        quiet_dependency_warnings()
        warnings.warn_explicit("a message", category, "file.py", 1, module=module)
    assert shown == bool(caught)
