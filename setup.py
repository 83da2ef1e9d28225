"""Build step: compile the gettext catalogues (``.po`` to ``.mo``) into the built package.

Everything else about the package is in pyproject.toml. A source checkout works without
this step (archive.i18n compiles a ``.po`` in memory when its ``.mo`` is missing); a wheel
carries the compiled ``.mo`` files.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    """``build_py`` that also writes ``tweetchat.mo`` beside each ``tweetchat.po``."""

    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in Path("archive/i18n/locales").glob("*/LC_MESSAGES/*.po"):
            target = Path(self.build_lib) / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as f:
                catalog = read_po(f)
            with target.open("wb") as out:
                write_mo(out, catalog, use_fuzzy=False)


setup(cmdclass={"build_py": BuildWithCatalogues})
