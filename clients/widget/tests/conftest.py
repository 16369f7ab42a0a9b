"""Fixtures for the widget's browser tests: real feedbackd and feedback-gateway processes, a second
origin that embeds the widget, and headless Chromium driven by Selenium."""
import functools
import http.server
import os
import pathlib
import sys
import threading

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "Tests" / "pysupport"))
from feedback_stack import Stack, free_port  # noqa: E402


class EmbedServer:
    """A second origin serving a page that embeds the widget from the gateway."""

    def __init__(self, directory: pathlib.Path):
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        handler = functools.partial(QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def embed_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("embed")


@pytest.fixture(scope="session")
def embed(embed_dir):
    server = EmbedServer(embed_dir)
    yield server
    server.close()


@pytest.fixture()
def stack(tmp_path, embed):
    stack = Stack(tmp_path, allowed_origin=embed.origin)
    yield stack
    stack.close()


@pytest.fixture()
def make_stack(tmp_path, embed):
    """Stack(**kwargs) with the embed origin allowed, for tests that need other flags or interactions."""
    stacks = []

    def make(**kwargs):
        directory = tmp_path / f"stack{len(stacks)}"
        directory.mkdir()
        stacks.append(Stack(directory, allowed_origin=embed.origin, **kwargs))
        return stacks[-1]

    yield make
    for stack in stacks:
        stack.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    """Where the look tests leave their PNGs (pytest's temp dir), for a person to look at."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,800"):
        options.add_argument(argument)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def plain_browser(browser):
    """Each test starts with no emulation left over from the one before (the browser is shared)."""
    yield
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": []})
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})
