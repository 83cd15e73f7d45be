"""Dependencies point one way: bot → segmentation, storage; answers know nothing of Slack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# package → the top-level modules it must never import, directly or lazily inside a function
FORBIDDEN = {
    "segmentation": ("bot", "storage", "slack_sdk", "slack_bolt", "sqlite_utils"),
    "storage": ("bot", "slack_sdk", "slack_bolt"),
    "bot/answers": ("bot.slack", "bot.jobs", "bot.cli", "slack_sdk", "slack_bolt"),
    "bot/jobs": ("bot.cli",),
    "bot/slack": ("bot.cli",),
}


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at the top or inside a function."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_never_imports_what_sits_above_it(package: str) -> None:
    sources = sorted((ROOT / package).rglob("*.py"))
    assert sources, f"no sources under {package}"
    breaches = [f"{path.relative_to(ROOT)} imports {module}"
                for path in sources for module in sorted(imported_modules(path))
                if any(module == banned or module.startswith(banned + ".")
                       for banned in FORBIDDEN[package])]
    assert breaches == []


SPARK_MODULES = ("segmentation/spark_engine.py", "segmentation/spark_prepare.py",
                 "segmentation/spark_generic.py", "bot/spark.py")


def test_only_the_spark_modules_import_pyspark() -> None:
    # pyspark is an optional extra: everything else must import without it
    importers = sorted(str(path.relative_to(ROOT))
                       for package in ("bot", "segmentation", "storage")
                       for path in (ROOT / package).rglob("*.py")
                       if any(m == "pyspark" or m.startswith("pyspark.")
                              for m in imported_modules(path)))
    assert importers == sorted(SPARK_MODULES)
