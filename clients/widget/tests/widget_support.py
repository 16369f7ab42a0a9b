"""Helpers shared by the widget's browser tests: finding widgets, waiting on their state, host pages on
the second origin, what the page sent, colours and contrast."""
import contextlib
import json
import re

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def widget(browser, anchor):
    return browser.find_element(By.CSS_SELECTOR, f"{anchor} .fbw")


def button(browser, anchor, which):
    return browser.find_element(By.CSS_SELECTOR, f"{anchor} .fbw-{which}")


def status(browser, anchor):
    return browser.find_element(By.CSS_SELECTOR, f"{anchor} .fbw-status")


def wait_state(browser, anchor, state, timeout=15):
    WebDriverWait(browser, timeout).until(lambda b: widget(b, anchor).get_attribute("data-state") == state)


def pressed(browser, anchor):
    """The rating the buttons show: 1, -1 or 0."""
    up = button(browser, anchor, "up").get_attribute("aria-pressed") == "true"
    down = button(browser, anchor, "down").get_attribute("aria-pressed") == "true"
    assert not (up and down)
    return 1 if up else -1 if down else 0


def open_demo(browser, stack, token):
    browser.get(f"{stack.url}/#token={token}")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#rate-3 .fbw-up"))


# Wraps fetch before the widgets mount, so a test sees each body the page sent.
RECORD_FETCH = """window.sent = [];
const realFetch = window.fetch;
window.fetch = (url, init) => { window.sent.push(init.body); return realFetch(url, init); };"""


def host_page(browser, embed, embed_dir, stack, name, body, script, head=""):
    """A page on the embed origin (allowed by the stack's gateway) that loads the gateway's widget.
    `script` runs after it, with `token` (a valid JWT) defined; the page records what it fetches."""
    (embed_dir / f"{name}.html").write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name}</title><link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">{head}</head>
<body><main>{body}</main>
<script src="{stack.url}/widget/feedback.js"></script>
<script>"use strict"; const token = {json.dumps(stack.token())}; {RECORD_FETCH}
{script}</script></body></html>""")
    browser.get(f"{embed.origin}/{name}.html")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".fbw"))


def sent(browser):
    """The bodies the page posted (through the wrapped fetch)."""
    return browser.execute_script("return window.sent")


def feedback_requests(browser):
    """Requests to /feedback the browser made, from its resource timing (independent of any wrapper)."""
    return browser.execute_script(
        "return performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === '/feedback').length")


def rgb(css_colour):
    """'rgb(1, 2, 3)' or 'rgba(1, 2, 3, 1)' -> (1, 2, 3)."""
    values = [float(v) for v in re.findall(r"[\d.]+", css_colour)]
    assert len(values) == 3 or (len(values) == 4 and values[3] == 1), css_colour
    return tuple(round(v) for v in values[:3])


def contrast(a, b):
    """WCAG 2 contrast ratio of two sRGB colours."""
    def luminance(colour):
        channels = []
        for value in colour:
            c = value / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def style(browser, element, prop):
    return browser.execute_script("return getComputedStyle(arguments[0]).getPropertyValue(arguments[1])", element, prop)


def emulate_dark(browser):
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    assert browser.execute_script("return matchMedia('(prefers-color-scheme: dark)').matches")


def emulate_phone(browser, width=390, height=844):
    """A phone's viewport, and touch: `(pointer: coarse)` holds."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    assert browser.execute_script("return matchMedia('(pointer: coarse)').matches")
    assert browser.execute_script("return innerWidth") == width


@contextlib.contextmanager
def offline(browser):
    """The browser offline (Chromium's network emulation) inside the block, online again after it."""
    browser.execute_cdp_cmd("Network.enable", {})
    conditions = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, **conditions})
    try:
        WebDriverWait(browser, 5).until(lambda b: b.execute_script("return navigator.onLine") is False)
        yield
    finally:
        browser.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, **conditions})
