"""Versions pinned in scripts/versions.env (the project's one list of versions)."""
import os

_ENV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts", "versions.env")


def pinned(name):
    with open(_ENV, encoding="utf-8") as handle:
        for line in handle:
            key, _, value = line.strip().partition("=")
            if key == name:
                return value.strip().strip('"')
    raise KeyError(f"{name} is not pinned in scripts/versions.env")
