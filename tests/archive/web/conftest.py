"""A small archive on a real SQLite file for the web tests: two #WeDocs chats (one
published, one upcoming), an opted-out participant, a deleted message, a hostile title."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from archive.models import CapturedMessage, Chat, ChatStatus, MessageKind, Question, Target
from archive.store import Store
from archive.web import make_app

PAST_START = datetime(2026, 1, 6, 20, 0, tzinfo=UTC)
EARLIER_START = PAST_START - timedelta(days=28)
FUTURE_START = datetime(2099, 3, 3, 20, 0, tzinfo=UTC)
HOSTILE_TITLE = "<script>alert('x')</script> Safety & QI"


def chat(
    chat_id: str, start: datetime, *, title: str = "Patients as partners", **kw: object
) -> Chat:
    return Chat(
        id=chat_id,
        title=title,
        hashtag="#WeDocs",
        start=start,
        end=start + timedelta(hours=1),
        timezone="Europe/London",
        questions=(
            Question(1, "How do you involve patients?", timedelta(minutes=10)),
            Question(2, "What got in the way?", timedelta(minutes=20)),
        ),
        targets=(Target("local", "main"),),
        hosts=("host",),
        **kw,  # type: ignore[arg-type]
    )


def msg(
    chat_id: str,
    pid: str,
    author: str,
    text: str,
    start: datetime,
    minute: int,
    *,
    kind: MessageKind = MessageKind.ANSWER,
    keys: tuple[str, ...] = ("1",),
    deleted: bool = False,
) -> CapturedMessage:
    return CapturedMessage(
        chat_id=chat_id,
        platform="local",
        platform_id=pid,
        author_id=author,
        author_name=author.title(),
        author_handle=author,
        text=text,
        created_at=start + timedelta(minutes=minute),
        kind=kind,
        question_keys=keys if kind is MessageKind.ANSWER else (),
        deleted_at=start + timedelta(minutes=minute + 1) if deleted else None,
    )


def build_archive(path: Path) -> Path:
    store = Store(path)
    try:
        store.add_chat(chat("wedocs-earlier", EARLIER_START, status=ChatStatus.PUBLISHED))
        store.add_chat(
            chat("wedocs-past", PAST_START, title=HOSTILE_TITLE, status=ChatStatus.PUBLISHED)
        )
        store.add_chat(chat("wedocs-next", FUTURE_START, status=ChatStatus.SCHEDULED))
        store.add_chat(
            chat("wedocs-off", FUTURE_START + timedelta(days=7), status=ChatStatus.CANCELLED)
        )
        e, p = "wedocs-earlier", "wedocs-past"
        store.save_messages(
            [
                msg(e, "e1", "alice", "A1 we ask our patient council #WeDocs", EARLIER_START, 12),
                msg(
                    p,
                    "p1",
                    "alice",
                    "A1 co-design with the patient council #WeDocs",
                    PAST_START,
                    12,
                ),
                msg(
                    p,
                    "p2",
                    "bob",
                    "A1 patient stories at board meetings <b>bold</b> #WeDocs",
                    PAST_START,
                    13,
                ),
                msg(
                    p,
                    "p3",
                    "carol",
                    "A2 secretword lives here, thanks @bob #WeDocs",
                    PAST_START,
                    22,
                    keys=("2",),
                ),
                msg(
                    p,
                    "p4",
                    "mallory",
                    "A1 deletedword should vanish #WeDocs",
                    PAST_START,
                    14,
                    deleted=True,
                ),
                msg(
                    p,
                    "p5",
                    "olivia",
                    "A2 optedword from someone who left #WeDocs",
                    PAST_START,
                    23,
                    keys=("2",),
                ),
                msg(
                    p,
                    "p6",
                    "alice",
                    "A2 thanks @olivia for optedword idea #WeDocs",
                    PAST_START,
                    24,
                    keys=("2",),
                ),
            ]
        )
        store.opt_out("local", "olivia", "olivia")
    finally:
        store.close()
    return path


@pytest.fixture
def archive_path(tmp_path: Path) -> Iterator[Path]:
    yield build_archive(tmp_path / "archive.db")


@pytest.fixture
async def client(archive_path: Path) -> AsyncIterator[TestClient]:
    app = make_app(archive_path, page_size=10)
    async with TestClient(TestServer(app)) as c:
        yield c
