"""The stakeholder mix and attachment lines in a chat's language: a French and a Welsh
chat with declared groups and attachments, in Markdown and on the web archive's page (the
English ones are the golden files of test_groups.py and test_attachments.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from archive.models import Attachment, AttachmentKind, CapturedMessage, ChatStatus
from archive.publish import render_chat
from archive.web.templates import Site
from archive.web.views import chat_page
from tests.archive.test_groups import CHAT, MESSAGES, build
from tests.archive.test_transcripts import section

NB = "\u00a0"
PLAN = Attachment("plan.pdf", "https://example.org/plan.pdf")
WAVE = Attachment("Wave", "", AttachmentKind.STICKER)
UNNAMED = Attachment("", "", AttachmentKind.STICKER)


def _messages() -> list[CapturedMessage]:
    out = []
    for m in MESSAGES:
        if m.platform_id == "5":
            m = dataclasses.replace(m, attachments=(PLAN, UNNAMED))
        elif m.platform_id == "18":
            m = dataclasses.replace(m, attachments=(WAVE,))
        out.append(m)
    return out


# language -> what its Markdown section, lines and web page show
EXPECTED = {
    "fr": {
        "heading": "## Répartition des parties prenantes",
        "rows": [
            "| Groupe | Participants | Part | Réponses | Part des réponses |",
            "| Patient | compté ensemble | — | — | — |",
            f"| Clinicien | 3 | 30{NB}% | 6 | 43{NB}% |",
            "| Proche aidant | compté ensemble | — | — | — |",
            f"| Comptés ensemble{NB}: Patient, Proche aidant | 4 | 40{NB}% | 6 | 43{NB}% |",
            f"| Non déclaré | 2 | 20{NB}% | 1 | 7{NB}% |",
            f"| **Total** | 10 | 100{NB}% | 14 | 100{NB}% |",
            "### Réponses par question, selon le groupe",
            f"*Pas de détail quand des groupes sont comptés ensemble{NB}:",
        ],
        "lines": [
            f"Pièce jointe{NB}: [plan.pdf](https://example.org/plan.pdf)",
            f"Autocollant{NB}: autocollant",
            f"Autocollant{NB}: Wave",
        ],
        "page": [
            "<h2>Répartition des parties prenantes</h2>",
            "<h3>Participants selon le groupe</h3>",
            'Pièce jointe&nbsp;: <a href="https://example.org/plan.pdf"',
            "Autocollant&nbsp;: Wave",
        ],
    },
    "cy": {
        "heading": "## Cymysgedd rhanddeiliaid",
        "rows": [
            "| Grŵp | Cyfranogwyr | Cyfran | Atebion | Cyfran yr atebion |",
            "| Claf | wedi’i gyfrif gydag eraill | — | — | — |",
            "| Clinigwr | 3 | 30% | 6 | 43% |",
            "| Gofalwr | wedi’i gyfrif gydag eraill | — | — | — |",
            "| Wedi’u cyfrif gyda’i gilydd: Claf, Gofalwr | 4 | 40% | 6 | 43% |",
            "| Heb ddatgan | 2 | 20% | 1 | 7% |",
            "| **Cyfanswm** | 10 | 100% | 14 | 100% |",
            "### Atebion fesul cwestiwn yn ôl grŵp",
            "*Ni ddangosir hyn pan gaiff grwpiau eu cyfrif gyda’i gilydd:",
        ],
        "lines": [
            "Atodiad: [plan.pdf](https://example.org/plan.pdf)",
            "Sticer: sticer",
            "Sticer: Wave",
        ],
        "page": [
            "<h2>Cymysgedd rhanddeiliaid</h2>",
            "<h3>Cyfranogwyr yn ôl grŵp</h3>",
            'Atodiad: <a href="https://example.org/plan.pdf"',
            "Sticer: Wave",
        ],
    },
}


@pytest.mark.parametrize("language", ["fr", "cy"])
def test_a_chat_in_its_language_shows_groups_and_attachments_in_it(
    tmp_path: Path, language: str
) -> None:
    chat = dataclasses.replace(CHAT, language=language)
    store = build(tmp_path / "archive.db", chat, _messages())
    try:
        want = EXPECTED[language]
        md = render_chat(store, chat).markdown
        mix = section(md, want["heading"])
        for row in want["rows"]:
            assert row in mix
        for line in want["lines"]:
            assert f"  \n  {line}" in md
        for english in ("Stakeholder mix", "Attachment:", "Sticker:", "Not declared", "| Carer |"):
            assert english not in md
        # The JSON transcript's labels are the chat's too (keys stay as configured).
        store.set_status(chat.id, ChatStatus.PUBLISHED)
        page = chat_page(store, Site(), chat.id)
        for text in want["page"]:
            assert text in page
        for english in ("Stakeholder mix", "Participants by group", "Attachment:", "Sticker:"):
            assert english not in page
    finally:
        store.close()


def test_config_labels_stay_as_configured_in_french(tmp_path: Path) -> None:
    chat = dataclasses.replace(CHAT, language="fr")
    store = build(tmp_path / "archive.db", chat)
    try:
        # A label of the config's own stays as it is; a default one (same key and label
        # as DEFAULT_GROUPS, e.g. a config that lists them to reorder them) is translated.
        labels = (("patient", "Usager"), ("clinician", "Clinician"), ("carer", "Family carer"))
        store.set_group_setup(labels, ())
        mix = section(render_chat(store, chat).markdown, "## Répartition des parties prenantes")
        # The roster's patients are gone with it: two patients and one carer, counted
        # together (2 and 1 participants, 4 and 1 answers: they differ).
        assert "| Family carer | compté ensemble |" in mix
        assert "| Usager | compté ensemble |" in mix
        assert f"| Clinicien | 3 | 30{NB}% |" in mix
        assert f"| Comptés ensemble{NB}: Usager, Family carer | 3 | 30{NB}% | 5 |" in mix
        assert "| Q1 |" not in mix
    finally:
        store.close()
