"""Browser tests: headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright without
``playwright install``) against a live server started as the product runs it by default:
``manage.py runserver`` (daphne, with the in-process workers and the account streaming), in a
subprocess on a free port, on this session's test database.

Run them in their own pytest invocation (``pytest tests/browser``): sync Playwright keeps an event
loop in the main thread, which breaks pytest-asyncio tests collected after it (collected with the
rest, they are moved last). Screenshots are kept under ``test-artifacts/browser/``.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

from tests.services import IN_CI

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("TTMT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Browser tests last, whatever the invocation (see the module docstring)."""
    items.sort(key=lambda item: Path(str(item.fspath)).resolve().is_relative_to(BROWSER_DIR))


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true browser tests must run, not skip")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    # Sync Playwright runs an event loop in the main thread: Django would refuse the ORM there.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=15_000)  # a live server with workers: seconds, not milliseconds
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console_messages.append(f"pageerror: {error}"))
    yield page
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and page is not None:
        try:  # the page as it was when the test failed (the server is still up)
            screenshot(page, item.name, "failure")
        except Exception as error:  # a screenshot must not hide the failure
            report.sections.append(("screenshot", f"no failure screenshot: {error}"))


def screenshot(page, test_name: str, step: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{test_name}-{step}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def off_the_loop(function, *args, **kwargs):
    """Run ``function`` in a thread of its own: Playwright holds an event loop in this one, where
    ``async_to_sync`` (the gateways, the account setup) cannot run."""

    def run():
        from django.db import connections

        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``manage.py runserver`` in a subprocess: the embedded default (workers, streaming) on the
    test database. ``stop()`` and ``start()`` again on the same port simulate a dropped server."""

    def __init__(self, database_name: str, var_dir: Path, log_path: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.browser.server_settings",
            "TTMT_BROWSER_DB_NAME": database_name,
            "TTMT_VAR_DIR": str(var_dir),
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open for the process's lifetime)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the live server exited: {self.log()}")
            try:
                with urlopen(f"{self.url}/accounts/login/", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (URLError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"the live server did not start: {self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


@pytest.fixture
def ttmt_server(transactional_db, tmp_path, request):
    from django.db import connection

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = LiveServer(
        connection.settings_dict["NAME"], tmp_path / "var", ARTIFACTS / f"{request.node.name}-server.log"
    )
    server.log_path.unlink(missing_ok=True)
    server.start()
    yield server
    server.stop()
