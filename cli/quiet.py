"""Warnings a user of the ``shipbot`` command cannot act on stay off their terminal.

A dependency that warns about its own dependencies (asyncssh still names DSA types that cryptography deprecates, and
cryptography's ``CryptographyDeprecationWarning`` is a ``UserWarning``, shown by Python's default settings) would
print those lines before every answer. Each row below ignores one warning class raised from one dependency's modules,
nothing wider: shipbot's own warnings, and any other library's, still show.
"""

from __future__ import annotations

import importlib
import warnings

# (module that defines the warning class, its name, regular expression of the modules that raise it)
DEPENDENCY_WARNINGS: tuple[tuple[str, str, str], ...] = (
    ("cryptography.utils", "CryptographyDeprecationWarning", r"asyncssh(\..*)?$"),
)


def quiet_dependency_warnings() -> None:
    """Install the filters; call before the dependencies are imported (the console script's first step)."""
    for defined_in, name, raised_in in DEPENDENCY_WARNINGS:
        try:
            category = getattr(importlib.import_module(defined_in), name)
        except (ImportError, AttributeError):
            continue  # that dependency moved the class: its warning, if any, shows as it would without us
        warnings.filterwarnings("ignore", category=category, module=raised_in)
