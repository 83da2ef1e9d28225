"""The web archive: organisers browse, search and share transcripts in a browser."""

from archive.web.app import WebArchiveError, make_app, start_server

__all__ = ["WebArchiveError", "make_app", "start_server"]
