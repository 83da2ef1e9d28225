"""The bot's own words in a chat's language: gettext catalogues and Babel formatting.

Every text the bot writes for a chat (posts, alerts, transcripts, web pages) goes through
one :class:`Translator`, got with :func:`translator` from the chat's ``language`` (a BCP 47
tag: ``en``, ``fr``, ``cy``, or one of them with a region, ``fr-CA``)::

    tr = translator(chat.language)
    tr.gettext("Transcript to follow.")
    tr.ngettext("{n} answer", "{n} answers", n).format(n=tr.number(n))
    tr.pgettext("summary table", "Answers")
    tr.day(moment)        # "Tue 1 Dec 2026" / "mar. 1 déc. 2026" / "Maw 1 Rhag 2026"
    tr.clock(moment)      # "20:00" / "20 h 00"
    tr.relative(lead)     # "in 1 hour" / "dans 1 heure" / "ymhen awr"

Messages are English source strings marked by those method names, so ``pybabel extract``
finds them (``babel.cfg``; ``make messages`` extracts, updates and compiles). Placeholders
are ``str.format`` names, never positional, so translators may reorder them. Dates and
times use CLDR patterns that are themselves messages (``"EEE d MMM y"``), formatted by Babel
in the language's locale: no per-language code. A language's catalogue is
``archive/i18n/locales/<lang>/LC_MESSAGES/tweetchat.po``; its compiled ``.mo`` is built with
the package (``setup.py``) and, when absent or older than the ``.po`` (a fresh checkout),
compiled from the ``.po`` in memory on first use.

Sources: GNU gettext manual (PO format, plural forms); Babel's documentation
(``babel.messages``, ``babel.dates.format_datetime`` / ``format_timedelta``, CLDR patterns);
Unicode CLDR plural rules (Welsh has six categories: zero, one, two, few, many, other).
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

# Babel is imported with the first Translator (or a tag with a region), not with this
# module: the config and short commands (``tweetchat transcript`` serving a published
# file) import it for language_tag alone.
if TYPE_CHECKING:
    from babel import Locale

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "Translator",
    "language_tag",
    "negotiate",
    "translator",
]

LANGUAGES: tuple[str, ...] = ("en", "fr", "cy")
"""The languages with a complete catalogue, the source language (English) first."""
DEFAULT_LANGUAGE = "en"
DOMAIN = "tweetchat"
LOCALE_DIR = Path(__file__).parent / "locales"

_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|\d{3}))?$")


def language_tag(value: object) -> str:
    """The normalised BCP 47 tag (``fr``, ``fr-CA``, ``cy``) of a language we have.

    A region is kept (it picks the locale's formats, e.g. ``fr-CA`` writes ``20 h 00``);
    the catalogue is the language's. Raises ValueError naming the languages we have.
    """
    have = ", ".join(LANGUAGES)
    if not isinstance(value, str) or not (found := _TAG.match(value.strip())):
        raise ValueError(f"expected a language tag such as {have!s}, not {value!r}")
    language, region = found.group(1).lower(), (found.group(2) or "").upper()
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {value.strip()!r}; use one of {have}")
    tag = f"{language}-{region}" if region else language
    if region and not _cldr_has(tag):  # each of LANGUAGES alone is a CLDR locale
        raise ValueError(f"unknown locale {value.strip()!r}; use one of {have}")
    return tag


def _cldr_has(tag: str) -> bool:
    from babel import localedata

    return bool(localedata.exists(tag.replace("-", "_")))


def negotiate(accept_language: str | None, available: Sequence[str] = LANGUAGES) -> str:
    """The best of ``available`` for an HTTP ``Accept-Language`` header (RFC 9110 §12.5.4:
    quality values, ``*``, regions matching their language), else the first of them."""
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        q = 1.0
        for param in fields[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            wanted.append((-q, i, fields[0].lower()))
    for _, _, tag in sorted(wanted):
        if tag == "*":
            return available[0]
        primary = tag.split("-")[0]
        if primary in available:
            return primary
    return available[0]


def _catalogue_file(language: str, suffix: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@functools.cache
def _translations(language: str) -> gettext.GNUTranslations:
    """The language's compiled catalogue: the ``.mo`` when it is current, else the ``.po``
    compiled in memory with ``babel.messages`` (no write: an installed package may be
    read-only). Raises FileNotFoundError when the language has no catalogue."""
    po, mo = _catalogue_file(language, ".po"), _catalogue_file(language, ".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as f:
            return gettext.GNUTranslations(f)
    return gettext.GNUTranslations(io.BytesIO(compile_po(po)))


def compile_po(po: Path) -> bytes:
    """The ``.mo`` bytes of a ``.po`` file (fuzzy entries left out, as msgfmt does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


class Translator:
    """The bot's words and formats in one language (see the module docstring).

    ``tag`` is a tag from :func:`language_tag`. Every method is pure: formatting takes
    aware datetimes already in the zone they are to be shown in.
    """

    locale: Locale

    def __init__(self, tag: str) -> None:
        from babel import Locale, dates, lists, numbers

        self.tag = tag
        self.language = tag.split("-")[0]
        self.locale = Locale.parse(tag, sep="-")
        self._catalogue = _translations(self.language)
        self._dates, self._lists, self._numbers = dates, lists, numbers

    def __repr__(self) -> str:
        return f"Translator({self.tag!r})"

    # -- messages ----------------------------------------------------------------------

    def gettext(self, message: str) -> str:
        """``message`` (an English source string) in this language."""
        return self._catalogue.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of a message for the count ``n``, by the language's plural rule (two
        forms in English, three in French, six in Welsh). Format ``{n}`` afterwards."""
        return self._catalogue.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        """``message`` in this language where the same English words need telling apart
        (a context such as ``"summary table"``)."""
        return self._catalogue.pgettext(context, message)

    def counted(self, singular: str, plural: str, n: int) -> str:
        """``ngettext`` with ``{n}`` filled in: ``tr.counted("{n} answer", "{n} answers", 3)``.
        (Extraction knows ``counted`` as a plural keyword, like ``ngettext``.)"""
        return self._catalogue.ngettext(singular, plural, n).format(n=self.number(n))

    # -- numbers, dates, times ---------------------------------------------------------

    def number(self, n: float) -> str:
        """``n`` in the locale's digits and decimal sign, without grouping (``1234``)."""
        return self._numbers.format_decimal(n, locale=self.locale, group_separator=False)

    def percent(self, share: float) -> str:
        """``0.25`` as ``25%`` / ``25 %`` (whole percent, the locale's pattern)."""
        return self._numbers.format_percent(share, locale=self.locale)

    def pattern(self, moment: datetime, pattern: str) -> str:
        """``moment`` (aware; shown in its own zone) by a CLDR pattern, in this locale."""
        return self._dates.format_datetime(
            moment, pattern, tzinfo=moment.tzinfo, locale=self.locale
        )

    def day(self, moment: datetime) -> str:
        """The day with its year: ``Tue 1 Dec 2026``."""
        # Translators: a CLDR date pattern (EEE weekday, d day, MMM month, y year).
        return self.pattern(moment, self.gettext("EEE d MMM y"))

    def short_day(self, moment: datetime) -> str:
        """The day without its year: ``Tue 1 Dec``."""
        # Translators: a CLDR date pattern, as "EEE d MMM y" without the year.
        return self.pattern(moment, self.gettext("EEE d MMM"))

    def clock(self, moment: datetime) -> str:
        """The time of day: ``20:00``."""
        # Translators: a CLDR time pattern (HH hour 00-23, mm minute); quote literal text.
        return self.pattern(moment, self.gettext("HH:mm"))

    def zone(self, moment: datetime) -> str:
        """The zone's short name at ``moment``: in another language than English, the
        locale's own where CLDR has one (``HAE`` in ``fr-CA``); else the tz database
        abbreviation (``GMT``, ``BST``, ``EDT``), else the offset (``UTC+1``)."""
        if self.language != DEFAULT_LANGUAGE:
            try:
                name = self._dates.get_timezone_name(moment, "short", locale=self.locale)
            except (LookupError, AttributeError, ValueError):
                name = ""
            if name and name.isalpha():
                return name
        abbreviation = moment.tzname() or ""
        if abbreviation and abbreviation[0] not in "+-":
            return abbreviation
        return utc_offset(moment)

    def relative(self, lead: timedelta) -> str:
        """How far ahead ``lead`` is: ``in 1 hour``, ``dans 1 jour``, ``ymhen awr``; a lead of
        several units (``in 1 hour 30 minutes``) lists them; under a minute, ``in a moment``."""
        seconds = int(lead.total_seconds())
        if seconds < 60:
            return self.gettext("in a moment")
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        units = [
            timedelta(days=days),
            timedelta(hours=hours),
            timedelta(minutes=rest // 60),
        ]
        units = [u for u in units if u]
        if len(units) == 1:
            return self._dates.format_timedelta(
                units[0], threshold=1, add_direction=True, locale=self.locale
            )
        return self.gettext("in {duration}").format(duration=self.units(units))

    def units(self, parts: Iterable[timedelta]) -> str:
        """Whole units said in full and listed: ``1 hour 30 minutes``."""
        said = [self._dates.format_timedelta(p, threshold=1, locale=self.locale) for p in parts]
        return self._lists.format_list(said, style="unit-narrow", locale=self.locale)


def utc_offset(moment: datetime) -> str:
    """``UTC+1``, ``UTC-3``, ``UTC+5:30``, ``UTC+0`` (the same in every language)."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, mins = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")


@functools.cache
def translator(language: str = DEFAULT_LANGUAGE) -> Translator:
    """The :class:`Translator` of a language tag (normalised by :func:`language_tag`).
    Raises ValueError for a language we have no catalogue for."""
    return Translator(language_tag(language))
