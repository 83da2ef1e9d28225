"""Every adapter satisfies the platform contract (the ABC is enforced, not just documented)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from bot.config import Config
from bot.platforms.base import Platform

ADAPTERS = sorted(
    p.parent.name
    for p in (Path(__file__).resolve().parents[2] / "bot" / "platforms").glob("*/adapter.py")
)


@pytest.mark.parametrize("module_name", ADAPTERS)
def test_adapter_module_defines_a_complete_platform(module_name: str) -> None:
    module = importlib.import_module(f"bot.platforms.{module_name}.adapter")
    adapters = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Platform)
        and obj is not Platform
        and obj.__module__ == module.__name__
    ]
    assert adapters, f"bot/platforms/{module_name}/adapter.py defines no Platform subclass"
    for cls in adapters:
        assert not inspect.isabstract(cls), (
            f"{cls.__name__} leaves {cls.__abstractmethods__} abstract"
        )
        assert isinstance(cls.name, str) and cls.name


def test_app_builds_every_enabled_platform_from_the_config(tmp_path: Path) -> None:
    from bot.config import config_from_dict
    from bot.platforms.registry import build_platforms
    from scheduler.clock import SystemClock

    config: Config = config_from_dict(
        {"local": {"enabled": True}, "x": {"enabled": True}}, base_dir=tmp_path
    )
    env = {
        "X_BEARER_TOKEN": "b",
        "X_CONSUMER_KEY": "k",
        "X_CONSUMER_SECRET": "s",
        "X_ACCESS_TOKEN": "1-t",
        "X_ACCESS_TOKEN_SECRET": "ts",
    }
    platforms = build_platforms(config, SystemClock(), env)
    assert set(platforms) == {"local", "x"}
    assert all(isinstance(p, Platform) for p in platforms.values())
