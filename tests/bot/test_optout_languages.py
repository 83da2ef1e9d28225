"""`!optout` / `!optin` are answered in the language of the chat the message belongs to
(a French chat on the local platform, through `tweetchat run`), and the bot's answer in
any language stays out of the transcript."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from archive.i18n import translator
from bot.facilitator import (
    NOT_OPTED_OUT_REPLY,
    OPT_REPLIES,
    OPTED_IN_REPLY,
    OPTED_OUT_REPLY,
    opt_reply,
)
from bot.platforms.local.adapter import LocalNetwork, LocalUser
from tests.bot.helpers import chat_file, config_file, start_bot, tweetchat, wait_for

ANA = LocalUser("a", "Ana", "ana")
NB = "\u00a0"


def test_every_languages_replies_are_known_as_the_bots() -> None:
    for language in ("en", "fr", "cy"):
        tr = translator(language)
        for answer in (OPTED_OUT_REPLY, OPTED_IN_REPLY, NOT_OPTED_OUT_REPLY):
            assert opt_reply(answer, tr) in OPT_REPLIES
    assert opt_reply(OPTED_OUT_REPLY, translator("en")) == OPTED_OUT_REPLY
    assert opt_reply(OPTED_IN_REPLY, translator("cy")).startswith("Rydych wedi optio i mewn")


def test_optout_in_a_french_chat_is_answered_in_french(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    net_path = tmp_path / "net.sqlite"
    chat_file(tmp_path / "chat.toml", start_in=3, extra='language = "fr-CA"\n')
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config, "--until-idle")

    def bot_text(prefix: str) -> str:
        net = LocalNetwork(net_path)
        try:
            return next(
                (r["text"] for r in net.messages("main") if r["is_bot"] and prefix in r["text"]),
                "",
            )
        finally:
            net.close()

    def replies_to(mid: str) -> list[str]:
        net = LocalNetwork(net_path)
        try:
            return [r["text"] for r in net.messages("main") if r["reply_to"] == mid and r["is_bot"]]
        finally:
            net.close()

    try:
        wait_for(lambda: bot_text("Q1:"), what="Q1")
        net = LocalNetwork(net_path)
        net.post("main", ANA, "A1: la mienne #WeDocs", at=datetime.now(UTC))
        out_id = net.post("main", ANA, "!optout", at=datetime.now(UTC))
        net.close()
        replies = wait_for(lambda: replies_to(out_id), what="the opt-out reply")
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    assert replies == [
        f"Vous vous êtes retiré(e){NB}: vos messages sont exclus de toutes les transcriptions "
        "(ils peuvent tout de même être comptés, de façon anonyme). Répondez !optin pour "
        "annuler ce choix."
    ]
    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    assert "Vous vous êtes retiré" not in md and "la mienne" not in md
