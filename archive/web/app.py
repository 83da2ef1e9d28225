"""The web archive's aiohttp application: routes, security headers, error pages. Pages are
rendered off the event loop on the store's pool of read-only connections (``ReadPool``):
the running bot's own pool, or one opened for the file when the archive is served alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

from archive.highlights import HIGHLIGHTS_PER_QUESTION
from archive.i18n import Translator, negotiate, translator
from archive.standing import ScheduleSource
from archive.store import NotFoundError, Now, ReadPool, Store, system_now
from archive.web import chart_files, views
from archive.web.templates import LOCALTIME_JS, STATIC_CSS, Site, error_page

logger = logging.getLogger(__name__)

MIN_SCHEMA = 10  # every table and column it reads: groups (9), engagement (10)
MAX_PAGE = 10_000
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self';"
    " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HTML = "text/html"


class WebArchiveError(Exception):
    """The archive cannot be served (missing or unmigrated database)."""


POOL = web.AppKey("pool", ReadPool)
CACHE = web.AppKey("render_cache", views.RenderCache)
SITE = web.AppKey("site", Site)
NOW: web.AppKey[Now] = web.AppKey("now")
HealthCheck = Callable[[], Mapping[str, str | None]]
"""What the running bot reports for ``/healthz``: a part's name (``runner``, ``discord``)
to what is wrong with it, or None when it works."""
HEALTH: web.AppKey[HealthCheck | None] = web.AppKey("health")
SCHEDULE: web.AppKey[ScheduleSource | None] = web.AppKey("schedule")


def check_database(path: Path) -> None:
    """Fail early, with a message, when the database cannot be served."""
    if not path.is_file():
        raise WebArchiveError(f"no archive database at {path}")
    store = Store.open_readonly(path)
    try:
        version = store.schema_version()
    except Exception as exc:
        raise WebArchiveError(f"{path} is not a tweetchat archive: {exc}") from exc
    finally:
        store.close()
    if version < MIN_SCHEMA:
        raise WebArchiveError(
            f"{path} is at schema version {version}; open it once with `tweetchat serve`"
            " or `tweetchat run` (which migrate it) before serving it read-only"
        )


def _page(request: web.Request) -> int:
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


def _html(text: str, reader: Translator | None = None) -> web.Response:
    """A page; ``reader``: it was chosen by the request's Accept-Language (RFC 9110 §12.5.5:
    say so in ``Vary``, so caches keep one copy per language)."""
    response = web.Response(text=text, content_type=HTML, charset="utf-8")
    if reader is not None:
        response.headers["Content-Language"] = reader.tag
        response.headers["Vary"] = "Accept-Language"
    return response


def _reader(request: web.Request) -> Translator:
    """The reader's language among those the archive has (``Accept-Language``)."""
    return translator(negotiate(request.headers.get("Accept-Language")))


async def home(request: web.Request) -> web.Response:
    app = request.app
    reader = _reader(request)
    return _html(await app[POOL].run(views.home_page, app[SITE], _page(request), reader), reader)


async def chat(request: web.Request) -> web.Response:
    app = request.app
    ref = request.match_info["ref"]
    if ref.endswith(".ics"):
        ics = await app[POOL].run(
            views.chat_calendar, app[SITE], _origin(request), app[NOW](), ref[: -len(".ics")]
        )
        return web.Response(
            text=ics.body,
            headers={
                "Content-Type": ics.content_type,
                "Content-Disposition": f'attachment; filename="{ics.filename}"',
            },
        )
    for suffix in views.DOWNLOADS:
        if ref.endswith(suffix):
            dl = await app[POOL].run(views.chat_download, ref[: -len(suffix)], suffix, app[CACHE])
            return web.Response(
                text=dl.body,
                headers={
                    "Content-Type": dl.content_type,
                    "Content-Disposition": f'attachment; filename="{dl.filename}"',
                },
            )
    return _html(
        await app[POOL].run(
            views.chat_page,
            app[SITE],
            ref,
            app[CACHE],
            schedule=app[SCHEDULE],
            now=app[NOW](),
        )
    )


def _chart_response(chart: chart_files.ChartFile) -> web.Response:
    return web.Response(
        body=chart.body,
        headers={
            "Content-Type": chart.content_type,
            "Content-Disposition": f'attachment; filename="{chart.filename}"',
        },
    )


async def chat_chart(request: web.Request) -> web.Response:
    """``/chats/CHAT-ID/charts/NAME.svg|.png``: one chart of a chat page as a file."""
    app = request.app
    ref, name = request.match_info["ref"], request.match_info["name"]
    return _chart_response(await app[POOL].run(views.chat_chart, ref, name, app[CACHE]))


async def tag_chart(request: web.Request) -> web.Response:
    """``/tags/TAG/charts/participation.svg|.png``: the series chart as a file."""
    app = request.app
    tag_name, name = request.match_info["tag"], request.match_info["name"]
    reader = _reader(request)
    return _chart_response(await app[POOL].run(views.tag_chart, tag_name, name, reader))


async def tag(request: web.Request) -> web.Response:
    app = request.app
    reader = _reader(request)
    page = await app[POOL].run(views.tag_page, app[SITE], request.match_info["tag"], reader)
    return _html(page, reader)


async def search(request: web.Request) -> web.Response:
    app = request.app
    q = request.query.get("q", "")
    reader = _reader(request)
    page = await app[POOL].run(views.search_page, app[SITE], q, _page(request), reader)
    return _html(page, reader)


def _calendar(text: str) -> web.Response:
    return web.Response(
        text=text,
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": 'inline; filename="calendar.ics"',
        },
    )


async def calendar(request: web.Request) -> web.Response:
    app = request.app
    now = app[NOW]()
    return _calendar(await app[POOL].run(views.calendar_feed, app[SITE], _origin(request), now))


async def tag_calendar(request: web.Request) -> web.Response:
    app = request.app
    now = app[NOW]()
    tag_name = request.match_info["tag"]
    return _calendar(
        await app[POOL].run(views.calendar_feed, app[SITE], _origin(request), now, tag_name)
    )


async def atom(request: web.Request) -> web.Response:
    app = request.app
    text = await app[POOL].run(views.atom_feed, app[SITE], _origin(request), app[NOW]())
    return web.Response(text=text, content_type="application/atom+xml", charset="utf-8")


def _static(body: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            text=body,
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return handler


@web.middleware
async def error_pages(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unknown routes and ids get the site's 404 page; crashes a logged 500 page."""
    site = request.app[SITE]
    reader = _reader(request)
    try:
        return await handler(request)
    except NotFoundError:
        return web.Response(
            status=404,
            text=error_page(site, 404, reader.gettext("No such chat or hashtag."), reader),
            content_type=HTML,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = reader.gettext("No such page.") if exc.status == 404 else exc.reason
        return web.Response(
            status=exc.status,
            text=error_page(site, exc.status, message, reader),
            content_type=HTML,
            headers={k: v for k, v in exc.headers.items() if k == "Allow"},
        )
    except Exception:
        logger.exception("web archive: %s %s failed", request.method, request.path)
        return web.Response(
            status=500,
            text=error_page(
                site,
                500,
                reader.gettext("The archive could not answer; the error was logged."),
                reader,
            ),
            content_type=HTML,
        )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def make_app(
    archive: Path | ReadPool,
    *,
    base_url: str = "",
    page_size: int = 50,
    now: Now = system_now,
    health: HealthCheck | None = None,
    highlights: int = HIGHLIGHTS_PER_QUESTION,
    schedule: ScheduleSource | None = None,
) -> web.Application:
    """The read-only web archive, served under the path of ``base_url`` (e.g.
    ``https://example.org/chats`` -> ``/chats/...``).

    ``archive`` is either the read pool of a running store (``AsyncStore.reads``), which
    the app shares and leaves open, or the path of a database file, for which the app
    opens a pool of its own and closes it on cleanup. ``now`` dates the feeds (aware UTC).
    ``health`` adds the running bot's parts to ``/healthz`` (the archive alone checks its
    database). ``highlights``: answers each question's Highlights keep on chat pages.
    ``schedule`` computes a chat's schedule as it stands (bot/ passes the
    scheduler's ``chat_standing``, which the archive may not import); with it, the page of
    a chat not yet published shows that schedule first, as `tweetchat show` does.
    Raises WebArchiveError when a file is missing or not migrated far enough."""
    if isinstance(archive, ReadPool):
        pool, owned = archive, False
    else:
        path = Path(archive)
        check_database(path)
        pool, owned = ReadPool(path, now=now), True
    site = Site(base_url=base_url, page_size=page_size)
    app = web.Application(middlewares=[error_pages])
    app[SITE] = site
    app[POOL] = pool
    app[CACHE] = views.RenderCache(highlights=highlights)
    app[NOW] = now
    app[HEALTH] = health
    app[SCHEDULE] = schedule

    if owned:

        async def pool_lifetime(app: web.Application) -> AsyncIterator[None]:
            yield
            await asyncio.to_thread(app[POOL].close)

        app.cleanup_ctx.append(pool_lifetime)
    app.on_response_prepare.append(_security_headers)

    p = site.prefix
    routes = [
        web.get(p + "/", home),
        web.get(p + "/chats/{ref}", chat),
        web.get(p + "/chats/{ref}/charts/{name}", chat_chart),
        web.get(p + "/tags/{tag}", tag),
        web.get(p + "/tags/{tag}/calendar.ics", tag_calendar),
        web.get(p + "/tags/{tag}/charts/{name}", tag_chart),
        web.get(p + "/search", search),
        web.get(p + "/calendar.ics", calendar),
        web.get(p + "/feed.atom", atom),
        web.get(p + "/healthz", healthz),
        web.get(p + "/static/style.css", _static(STATIC_CSS, "text/css")),
        web.get(p + "/static/localtime.js", _static(LOCALTIME_JS, "text/javascript")),
    ]
    if p:
        routes.append(web.get(p, home))
    app.add_routes(routes)
    return app


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: 200 and ``{"status": "ok", "checks": {...}}`` when every part works,
    503 and ``"status": "failing"`` when one does not; ``checks`` maps each part (the
    database, and with ``tweetchat run`` the runner and every network) to "ok" or what is
    wrong. For load balancers and process supervisors; never cached."""
    checks: dict[str, str] = {}
    try:
        # A real read through the pool (SQL stays in archive/store): fails as any page would.
        await request.app[POOL].run(lambda store: store.get_state("healthz"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"cannot read: {exc}"
    report = request.app[HEALTH]
    if report is not None:
        for part, problem in report().items():
            checks[part] = problem or "ok"
    ok = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ok" if ok else "failing", "checks": checks},
        status=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )


async def start_server(
    archive: Path | ReadPool,
    *,
    host: str,
    port: int,
    base_url: str = "",
    page_size: int = 50,
    now: Now = system_now,
    health: HealthCheck | None = None,
    highlights: int = HIGHLIGHTS_PER_QUESTION,
    schedule: ScheduleSource | None = None,
) -> web.AppRunner:
    """Start serving the archive (see :func:`make_app` for ``archive``); stop it with
    ``await runner.cleanup()``. Raises WebArchiveError, or OSError when the port is taken."""
    app = await asyncio.to_thread(
        make_app,
        archive,
        base_url=base_url,
        page_size=page_size,
        now=now,
        health=health,
        highlights=highlights,
        schedule=schedule,
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    logger.info("web archive on http://%s:%d%s/", host, port, app[SITE].prefix)
    return runner
