"""The layer contract in pyproject.toml ([tool.importlinter]) is kept, and breaks on a new
cycle, a layer pointing up, or a network package importing another."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the three packages and the contract, to break on purpose."""
    for package in ("bot", "scheduler", "archive"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_house_keeps_its_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("scheduler/plan.py", "import bot.app", "Layers: bot over scheduler over archive"),
        ("archive/models.py", "import scheduler.limits", "Layers: bot over scheduler"),
        (
            "bot/platforms/x/cost.py",
            "import bot.platforms.discord.limits",
            "Network packages never import each other",
        ),
        ("bot/facilitator.py", "import discord", "Only the Discord package imports discord.py"),
        ("bot/facilitator.py", "import mastodon", "Only the Mastodon package imports Mastodon"),
        (
            "bot/platforms/mastodon/limits.py",
            "import bot.platforms.x.length",
            "Network packages never import each other",
        ),
        ("bot/platforms/x/cost.py", "import atproto", "Only the Bluesky package imports atproto"),
        ("scheduler/series.py", "import scheduler.plan", "No import cycles between sibling"),
        ("bot/platforms/base.py", "import bot.app", "No import cycles between sibling"),
    ],
)
def test_a_broken_rule_fails_the_check(tree: Path, module: str, line: str, broken: str) -> None:
    append(tree / module, line)
    result = lint(tree)
    assert result.returncode != 0
    verdicts = [ln for ln in result.stdout.splitlines() if ln.endswith(("KEPT", "BROKEN"))]
    # One bad import may break more than one rule (a chain through it); this one must be.
    assert any(ln.startswith(broken) and ln.endswith("BROKEN") for ln in verdicts), result.stdout


def test_every_module_of_the_bot_is_kept_from_every_client_library() -> None:
    """A new module or network package must be named in each "Only the X package imports Y"
    contract, or the contract would silently not cover it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    networks = sorted(p.parent.name for p in (ROOT / "bot" / "platforms").glob("*/__init__.py"))
    top = sorted(
        f"bot.{p.stem}"
        for p in (ROOT / "bot").glob("*.py")
        if p.stem not in ("__init__", "__main__")
    )
    (independent,) = [c for c in contracts if c["type"] == "independence"]
    assert sorted(independent["modules"]) == sorted(f"bot.platforms.{n}" for n in networks)
    forbidden = [c for c in contracts if c["type"] == "forbidden"]
    assert len(forbidden) == len(networks) - 1  # every network but local has a client library
    for contract in forbidden:
        owner = {f"bot.platforms.{n}" for n in networks} - set(contract["source_modules"])
        assert len(owner) == 1, contract["name"]
        expected = {"archive", "scheduler", *top, "bot.platforms.base", "bot.platforms.registry"}
        expected |= {f"bot.platforms.{n}" for n in networks} - owner
        assert set(contract["source_modules"]) == expected, contract["name"]
