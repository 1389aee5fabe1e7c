"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's
live server. Never ``playwright install``: the browser comes from the operating system."""

import os
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test import TransactionTestCase
from django.test.testcases import LiveServerThread

from ohm.ledger import append_only

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
# thread with a running loop unless told the test knows what it is doing.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


class SerialWSGIServer(WSGIServer):
    """The live server, one request at a time. On SQLite the test database is in memory and
    the server thread shares the test's one connection; Django's threaded server would let a
    page's concurrent fetches (the meter page asks for its chart data while the page still
    loads) use that connection from two threads at once, and SQLite then hands one of them a
    half-read row. Serving requests in turn costs nothing a test can see."""

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)


LiveServerThread.server_class = SerialWSGIServer


_flush = TransactionTestCase._fixture_teardown


def _flush_past_the_append_only_journal(self):
    """A live-server test commits for real, so when it ends Django flushes every table. On
    SQLite the flush is a DELETE per table, which the journal's append-only triggers refuse
    once an entry exists (PostgreSQL truncates, and no row trigger fires). The triggers and
    the receivable view come off for the flush and go straight back on, as a migration that
    alters a journal table does (``ohm.ledger.append_only``)."""
    aliases = [
        alias
        for alias in self._databases_names(include_mirrors=False)
        if connections[alias].vendor == "sqlite"
    ]
    for alias in aliases:
        with connections[alias].schema_editor(atomic=False) as editor:
            append_only.uninstall(editor)
    try:
        return _flush(self)
    finally:
        for alias in aliases:
            with connections[alias].schema_editor(atomic=False) as editor:
                append_only.install(editor)


TransactionTestCase._fixture_teardown = _flush_past_the_append_only_journal

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install --dev installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
