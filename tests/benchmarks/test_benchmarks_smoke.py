"""Each benchmark runs in a tiny mode so it cannot rot. Only correctness is asserted, never
timings (speed is reported by ``python -m benchmarks``, not tested)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.capture import capture
from archive.stats import compute_stats
from archive.transcripts.html import markdown_to_html, transcript_html_chunks
from archive.transcripts.markdown import render_markdown
from benchmarks import (
    BenchResult,
    Figure,
    bench_chat,
    bench_context,
    capture_bench,
    fault_bench,
    format_table,
    import_bench,
    incoming_messages,
    live_bench,
    percentile,
    schedule_bench,
    transcript_bench,
)
from benchmarks import __main__ as bench_main


def assert_checks_pass(result: BenchResult) -> None:
    assert result.checks, "a benchmark must report correctness checks"
    failed = [name for name, ok in result.checks.items() if not ok]
    assert not failed, failed


def test_capture_stores_every_captured_message_exactly_once() -> None:
    assert_checks_pass(capture_bench.run(quick=True, n=600, repeats=1))


def test_transcript_publishes_every_undeleted_message_at_each_size() -> None:
    assert_checks_pass(transcript_bench.run(sizes=(300, 900), repeats=1))


def test_live_load_stores_every_delivered_message_exactly_once() -> None:
    assert_checks_pass(live_bench.run(seconds=1.5, rate=200, questions=2))


def test_faults_lose_and_duplicate_nothing_and_the_chat_publishes() -> None:
    # Kills (SIGKILL, SIGTERM), seconds of failing writes, a full disk at the publish step.
    assert_checks_pass(fault_bench.run(quick=True))


def test_scheduler_posts_every_action_once_and_never_early() -> None:
    assert_checks_pass(schedule_bench.run(chats=2, questions=3))


def test_import_benchmark_runs_or_reports_the_command_missing() -> None:
    result = import_bench.run(n=300, repeats=1, peer=False)
    assert_checks_pass(result)
    if not import_bench.import_available():
        assert "n/a (import command not available)" in [f.value for f in result.figures]
    else:  # the linearity figure: per-message time at 300 against a fifth of it
        growth = [f for f in result.figures if f.metric.startswith("import time per message")]
        assert [f.metric for f in growth] == [
            "import time per message, 300 vs 60 msgs (start-up included)"
        ]
        assert growth[0].value.startswith("x")


def test_the_benchmark_compiles_the_packages_it_times(tmp_path: Path) -> None:
    # timed with bytecode, as an installed copy runs (not compiling every module again)
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n", encoding="utf-8")
    (tmp_path / "pkg" / "sub" / "deep.py").write_text("Y = 2\n", encoding="utf-8")
    assert import_bench.compile_bytecode(tmp_path, ("pkg",))
    assert list((tmp_path / "pkg" / "__pycache__").glob("mod.*.pyc"))
    assert list((tmp_path / "pkg" / "sub" / "__pycache__").glob("deep.*.pyc"))
    (tmp_path / "pkg" / "bad.py").write_text("def (\n", encoding="utf-8")
    assert not import_bench.compile_bytecode(tmp_path, ("pkg",))


def test_generated_export_has_the_documented_fields(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    import_bench.write_export(path, 50)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert {"guild", "channel", "messages", "messageCount"} <= doc.keys()
    message = doc["messages"][-1]
    assert {"id", "type", "timestamp", "timestampEdited", "content", "author"} <= message.keys()
    assert {"id", "name", "discriminator", "nickname", "isBot"} <= message["author"].keys()
    assert any("reference" in m and m["type"] == "Reply" for m in doc["messages"])


def test_generator_is_deterministic_for_a_seed() -> None:
    chat = bench_chat()
    assert list(incoming_messages(50, chat, seed=4)) == list(incoming_messages(50, chat, seed=4))


def test_percentile_uses_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50,
        99,
        100,
    )


def test_table_has_one_row_per_figure() -> None:
    table = format_table([Figure("a", "x", "1", ">= 1", True), Figure("b", "y", "2")])
    assert len(table.splitlines()) == 4 and "| ok" in table


def test_main_runs_a_chosen_benchmark_and_prints_one_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_bench, "QUICK_N", 200)  # the cheapest benchmark, made tiny
    monkeypatch.setattr(import_bench, "PEER", "")  # no npm install in a unit test
    assert bench_main.main(["--quick", "--only", "import"]) == 0
    out = capsys.readouterr().out
    assert out.count("| benchmark") == 1 and "Machine:" in out


# The transcript speed-ups made for the benchmarks must not change a byte: the HTML built
# section by section (with message lists rendered directly) equals the one-piece conversion.
_TEXT = st.lists(
    st.sampled_from(
        [
            *"ab z*_`#-+.!|[](){}<>&~=\\\t\n@:/01éñ\u00a0\u202e\x02",
            "http://x.org/a_b",
            "https://e.com/(x)",
            "https://q.org/?a=1&b=2",
            "&#1",
            "&amp;",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=8))
def test_transcript_html_in_pieces_equals_one_piece_conversion(
    texts: list[tuple[str, str]],
) -> None:
    chat = bench_chat()
    ctx = bench_context(chat)
    captured = [
        capture(msg, ctx) for msg in incoming_messages(len(texts) * 3, chat, seed=len(texts))
    ]
    messages = [
        replace(m, text=text, author_name=name)
        for m, (text, name) in zip([c for c in captured if c is not None], texts, strict=False)
    ]
    md = render_markdown(chat, messages, compute_stats(chat, messages))
    assert "\n".join(transcript_html_chunks(md, list_batch=2)) == markdown_to_html(md)
