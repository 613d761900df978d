"""Helpers for the flag tests: flagd's published schema (vendored under tests/fixtures/flagd, see its SOURCE.md)
and an app process that reads a flag file through the real OpenFeature SDK and flagd provider."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

FIXTURES = Path(__file__).parent.parent / "fixtures" / "flagd"

# An app as its developers would write it: the flagd provider in in-process file mode, one boolean per key.
APP = """
import json, sys
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
path, flag, keys = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
api.set_provider_and_wait(FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=path))
client = api.get_client()
print(json.dumps([client.get_boolean_value(flag, False, EvaluationContext(targeting_key=k)) for k in keys]))
api.shutdown()
"""


def validator() -> Any:
    """A validator of flagd's ``flags.json``, its ``./targeting.json`` resolved from the vendored copy."""
    flags = json.loads((FIXTURES / "flags.json").read_text())
    targeting = json.loads((FIXTURES / "targeting.json").read_text())
    # draft-07 ignores a ``$id`` beside a root ``$ref``, so ``./targeting.json`` is resolved against no base:
    # registered under that name too
    resources = [(s["$id"], Resource.from_contents(s)) for s in (flags, targeting)]
    resources.append(("./targeting.json", Resource.from_contents(targeting)))
    registry: Registry[Any] = Registry().with_resources(resources)
    cls = jsonschema.validators.validator_for(flags)
    return cls(flags, registry=registry)


def evaluate(path: Path, flag: str, keys: list[str]) -> list[bool]:
    """What an app using the flagd provider on ``path`` gets for ``flag`` with each targeting key."""
    out = subprocess.run(
        [sys.executable, "-c", APP, str(path), flag, json.dumps(keys)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [bool(v) for v in json.loads(out.stdout.strip().splitlines()[-1])]
