"""The systemd unit in deploy/ is one systemd accepts, and it runs what the README says."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "tweetchat.service"


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (.ci/run installs systemd)")
    # The unit names the install path of the README; verify it against this checkout's
    # tweetchat (systemd checks that ExecStart is executable).
    here = Path(sys.executable).with_name("tweetchat")
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/opt/tweetchat/bin/tweetchat run" in text
    unit = tmp_path / "tweetchat.service"
    unit.write_text(text.replace("/opt/tweetchat/bin/tweetchat", str(here)), encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_the_unit_reads_tokens_from_an_environment_file_and_stops_with_sigterm() -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert "EnvironmentFile=/etc/tweetchat/tweetchat.env" in text
    assert "Environment=TWEETCHAT_CONFIG=/etc/tweetchat/config.toml" in text
    assert "KillSignal=SIGTERM" in text and "Restart=on-failure" in text
    example = (ROOT / "deploy" / "tweetchat.env.example").read_text(encoding="utf-8")
    names = {
        line.split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    }
    config = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for name in names:  # every variable the example sets is one the config names
        assert f'"{name}"' in config, name


def test_make_demo_installs_the_bot_without_the_test_tools(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    plan = subprocess.run(
        [make, "-n", "demo"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    ).stdout
    assert "pip install --quiet -e .\n" in plan
    assert "[test]" not in plan
    tests = subprocess.run(
        [make, "-n", "test"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    ).stdout
    assert "-e '.[test]'" in tests


def test_a_built_wheel_installs_the_tweetchat_command(tmp_path: Path) -> None:
    """What `pipx install` does with a checkout: build a wheel, install it with its entry
    point, and run it (here into a fresh venv that reuses this one's packages)."""
    wheel_dir = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheel_dir.glob("tweetchat-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "archive/web/static.css" in names and "bot/platforms/base.py" in names
    # The message catalogues, compiled by the build (setup.py), and their sources.
    for language in ("en", "fr", "cy"):
        assert f"archive/i18n/locales/{language}/LC_MESSAGES/tweetchat.mo" in names
        assert f"archive/i18n/locales/{language}/LC_MESSAGES/tweetchat.po" in names
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120
    )
    # ...and this venv's too (Babel may be only here): a plain path, so that this venv's
    # editable install of tweetchat (a .pth of its own) does not shadow the wheel.
    site = sysconfig.get_paths()["purelib"]
    (venv / Path(site).relative_to(sys.prefix) / "parent-venv.pth").write_text(
        site + "\n", encoding="utf-8"
    )
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    version = subprocess.run(
        [str(venv / "bin" / "tweetchat"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("tweetchat "), version.stderr
    # The installed package reads its compiled French catalogue.
    said = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import archive.i18n as i; print(i._catalogue_file('fr', '.mo').is_file(),"
            " i.translator('fr').gettext('Transcript to follow.'))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert said.stdout.split(maxsplit=1) == ["True", "La transcription suivra.\n"], said.stderr
