"""The bot's words in English, French and Welsh: complete catalogues, plural forms, the
language of a chat and of a reader, and Babel's formats across daylight-saving changes."""

from __future__ import annotations

import io
import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from archive.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    compile_po,
    language_tag,
    negotiate,
    translator,
)
from archive.i18n.extract import extract_python_ast
from archive.models import Chat, Question
from scheduler.timeline import format_local_time, timeline

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "counted": (1, 2),
    "t": None,
}


def _catalogue(language: str):  # type: ignore[no-untyped-def]
    path = LOCALE_DIR / language / "LC_MESSAGES" / "tweetchat.po"
    with path.open("rb") as f:
        return read_po(f, locale=language)


def _key(message) -> tuple[str | None, str]:  # type: ignore[no-untyped-def]
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return (message.context, msgid)


def _code_messages() -> set[tuple[str | None, str]]:
    """Every message the code marks, extracted as `make messages` does (babel.cfg)."""
    from babel.messages.extract import extract

    found: set[tuple[str | None, str]] = set()
    for package in ("bot", "scheduler", "archive"):
        for path in sorted((ROOT / package).rglob("*.py")):
            with path.open("rb") as f:
                for _line, message, _comments, context in extract(
                    extract_python_ast, f, keywords=KEYWORDS, comment_tags=("Translators:",)
                ):
                    msgid = message if isinstance(message, str) else message[0]
                    found.add((context, msgid))
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_template_holds_every_message_of_the_code() -> None:
    """A new message in the code fails here until `make messages` is run."""
    with (LOCALE_DIR / "tweetchat.pot").open("rb") as f:
        template = {_key(m) for m in read_po(f) if m.id}
    code = _code_messages()
    assert code - template == set(), "run `make messages` and translate what is new"
    assert template - code == set(), "run `make messages`: the template has stale messages"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_is_complete_and_nothing_is_fuzzy(language: str) -> None:
    catalogue = _catalogue(language)
    with (LOCALE_DIR / "tweetchat.pot").open("rb") as f:
        template = {_key(m) for m in read_po(f) if m.id}
    assert {_key(m) for m in catalogue if m.id} == template
    problems = []
    for m in catalogue:
        if not m.id:
            continue
        forms = list(m.string) if isinstance(m.string, tuple) else [m.string]
        if m.fuzzy:
            problems.append(f"fuzzy: {m.id!r}")
        if not all(forms):
            problems.append(f"untranslated: {m.id!r}")
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        wanted = set().union(*(_fields(i) for i in ids))
        for form in forms:
            if form and _fields(form) != wanted:
                problems.append(
                    f"placeholders {sorted(_fields(form))} != {sorted(wanted)}: {m.id!r}"
                )
    assert problems == []
    assert not catalogue.fuzzy


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_forms_are_the_cldr_ones(language: str) -> None:
    catalogue = _catalogue(language)
    rule = get_plural(language)
    assert catalogue.plural_forms == rule.plural_forms
    assert catalogue.num_plurals == {"en": 2, "fr": 3, "cy": 6}[language]
    for m in catalogue:
        if m.id and not isinstance(m.id, str):
            assert len(m.string) == catalogue.num_plurals, m.id


def test_welsh_counts_take_each_of_the_six_forms() -> None:
    cy = translator("cy")
    said = {n: cy.counted("{n} participant", "{n} participants", n) for n in (0, 1, 2, 3, 6, 7)}
    assert said == {
        0: "0 cyfranogwr",
        1: "1 cyfranogwr",
        2: "2 gyfranogwr",  # soft mutation after "dau"
        3: "3 chyfranogwr",  # aspirate mutation after "tri"
        6: "6 chyfranogwr",  # aspirate mutation after "chwe"
        7: "7 cyfranogwr",
    }


def test_french_counts_zero_and_one_as_singular() -> None:
    fr = translator("fr")
    assert [fr.counted("{n} answer", "{n} answers", n) for n in (0, 1, 2)] == [
        "0 réponse",
        "1 réponse",
        "2 réponses",
    ]


def test_a_po_compiles_to_what_the_mo_would_hold() -> None:
    import gettext

    for language in LANGUAGES:
        mo = compile_po(LOCALE_DIR / language / "LC_MESSAGES" / "tweetchat.po")
        catalogue = gettext.GNUTranslations(io.BytesIO(mo))
        assert (
            catalogue.gettext("Transcript to follow.")
            == {
                "en": "Transcript to follow.",
                "fr": "La transcription suivra.",
                "cy": "Bydd trawsgrifiad yn dilyn.",
            }[language]
        )


@pytest.mark.parametrize(
    ("given", "tag"),
    [("fr", "fr"), ("FR", "fr"), ("fr-ca", "fr-CA"), ("fr_CA", "fr-CA"), (" cy ", "cy")],
)
def test_language_tags_are_normalised(given: str, tag: str) -> None:
    assert language_tag(given) == tag


@pytest.mark.parametrize("given", ["de", "klingon", "", "fr-XX-1", 3, "fr-ZZ"])
def test_a_language_without_a_catalogue_is_refused(given: object) -> None:
    with pytest.raises(ValueError, match=r"en, fr, cy"):
        language_tag(given)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("cy-GB, en;q=0.5", "cy"),
        ("de-DE, fr;q=0.3, cy;q=0.7", "cy"),
        ("de, *;q=0.1", "en"),
        ("fr;q=0, cy", "cy"),
        ("ja", "en"),
        ("fr;q=abc, cy;q=0.2", "cy"),
    ],
)
def test_the_reader_language_follows_accept_language(header: str | None, language: str) -> None:
    assert negotiate(header) == language


# -- times across daylight-saving changes ---------------------------------------------------


def _chat(start: datetime, zone: str, language: str) -> Chat:
    return Chat(
        id="c",
        title="Soins",
        hashtag="#Soins",
        start=start,
        end=start + timedelta(hours=1),
        timezone=zone,
        questions=(
            Question(1, "Un?", timedelta(minutes=10)),
            Question(2, "Deux?", timedelta(minutes=20)),
        ),
        language=language,
    )


@pytest.mark.parametrize(
    ("zone", "language", "start", "before", "after"),
    [
        # London springs forward on 29 March 2026 at 01:00 UTC.
        (
            "Europe/London",
            "cy",
            datetime(2026, 3, 29, 18, 0, tzinfo=UTC),
            "Sad 28 Maw, 18:00 GMT",
            "Sul 29 Maw, 19:00 BST",
        ),
        (
            "Europe/London",
            "fr",
            datetime(2026, 3, 29, 18, 0, tzinfo=UTC),
            "sam. 28 mars, 18 h 00 GMT",
            "dim. 29 mars, 19 h 00 BST",
        ),
        # London falls back on 25 October 2026 at 01:00 UTC.
        (
            "Europe/London",
            "cy",
            datetime(2026, 10, 25, 19, 0, tzinfo=UTC),
            "Sad 24 Hyd, 20:00 BST",
            "Sul 25 Hyd, 19:00 GMT",
        ),
        # Toronto springs forward on 8 March 2026 at 07:00 UTC, falls back on 1 November.
        (
            "America/Toronto",
            "fr-CA",
            datetime(2026, 3, 8, 23, 0, tzinfo=UTC),
            "sam. 7 mars, 18 h 00 HNE",
            "dim. 8 mars, 19 h 00 HAE",
        ),
        (
            "America/Toronto",
            "fr",
            datetime(2026, 11, 1, 23, 0, tzinfo=UTC),
            "sam. 31 oct., 19 h 00 EDT",
            "dim. 1 nov., 18 h 00 EST",
        ),
        (
            "America/Toronto",
            "cy",
            datetime(2026, 11, 1, 23, 0, tzinfo=UTC),
            "Sad 31 Hyd, 19:00 EDT",
            "Sul 1 Tach, 18:00 EST",
        ),
    ],
)
def test_reminders_across_a_clock_change_say_the_local_time_after_it(
    zone: str, language: str, start: datetime, before: str, after: str
) -> None:
    """The day-before reminder goes out 24 hours before the start (UTC), in the old offset;
    it names the start in the new one, and says so in the chat's language."""
    chat = _chat(start, zone, language)
    reminder = next(
        a for a in timeline(chat, reminders=[timedelta(hours=24)]) if a.key == "remind-1440"
    )
    assert reminder.at == start - timedelta(hours=24)
    assert format_local_time(chat, reminder.at) == before
    assert format_local_time(chat, chat.start) == after
    assert after in reminder.text
    when = {"fr": "dans 1 jour", "fr-CA": "dans 1 jour", "cy": "ymhen diwrnod"}[language]
    assert reminder.text.startswith(
        {"cy": f"Yn dod {when}:"}.get(language, f"À venir {when}\u00a0:")
    )


@pytest.mark.parametrize(
    ("language", "leads"),
    [
        ("fr", ["dans 1 jour", "dans 1 heure", "dans 10 minutes", "dans un instant"]),
        ("cy", ["ymhen diwrnod", "ymhen awr", "ymhen 10 munud", "mewn eiliad"]),
        ("en", ["in 1 day", "in 1 hour", "in 10 minutes", "in a moment"]),
    ],
)
def test_relative_times_are_babels(language: str, leads: list[str]) -> None:
    tr = translator(language)
    got = [
        tr.relative(d)
        for d in (
            timedelta(days=1),
            timedelta(hours=1),
            timedelta(minutes=10),
            timedelta(seconds=30),
        )
    ]
    assert got == leads


def test_a_chat_over_the_fall_back_hour_shows_both_zones() -> None:
    from archive.transcripts.text import time_range

    start = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST, an hour before 01:30 GMT
    zone = _chat(start, "Europe/London", "cy").zone
    assert time_range(start, start + timedelta(hours=1), zone, translator("cy")) == (
        "Sul 25 Hyd 2026, 01:30 BST–01:30 GMT"
    )
    assert time_range(start, start + timedelta(hours=1), zone, translator("fr")) == (
        "dim. 25 oct. 2026, 01 h 30 BST–01 h 30 GMT"
    )


def test_english_formats_are_unchanged() -> None:
    en = translator("en")
    moment = datetime(2026, 9, 1, 19, 5, tzinfo=UTC)
    assert en.day(moment) == f"{moment:%a} {moment.day} {moment:%b %Y}"
    assert en.clock(moment) == "19:05"
    assert en.percent(0.125) == f"{0.125:.0%}"
    assert en.number(12345) == "12345"
    assert re.fullmatch(r"in 1 hour 30 minutes", en.relative(timedelta(minutes=90)))


def test_calendar_events_say_how_to_answer_in_the_chat_s_language() -> None:
    import dataclasses

    from archive.labels import labels_from
    from archive.web.feeds import event_description

    chat = dataclasses.replace(
        _chat(datetime(2026, 3, 8, 23, 0, tzinfo=UTC), "America/Toronto", "fr"),
        labels=labels_from("Q/R", "test"),
    )
    text = event_description(chat)
    assert "Où participer\u00a0:\nla plateforme locale, salon main" in text
    assert "(R1 pour Q1, R2 pour Q2)" in text and "Pour répondre\u00a0:" in text
    english = event_description(dataclasses.replace(chat, language="en"))
    assert "Where to join:\nthe local platform, room main" in english
    assert "(R1 for Q1, R2 for Q2)" in english
