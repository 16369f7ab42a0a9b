"""How the widget looks and what assistive technology gets: target sizes (fine and coarse pointers, a
390 px phone), light and dark colour schemes with their contrast, host overrides of the CSS custom
properties, no clipped status text, axe-core's WCAG 2.2 AA checks; and screenshots to look at."""
import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from selenium_axe_python import Axe

from widget_support import (button, contrast, emulate_dark, emulate_phone, host_page, open_demo, rgb, status,
                            style, wait_state, widget)

# A chat page with a light and a dark scheme of its own, as a host that follows the system would have.
CHAT_HEAD = """<style>
:root { color-scheme: light dark; }
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 1em auto; padding: 0 1em; color: #222; background: #fff; }
article { border: 1px solid #ccc; border-radius: .6em; padding: .8em 1em; margin: .8em 0; }
@media (prefers-color-scheme: dark) { body { color: #e8eaed; background: #181a1b; } article { border-color: #3c4043; } }
</style>"""

CHAT_BODY = """<h1>A chat</h1>
<article><h2 id="qa">Saved</h2><p>An answer rated before (the host says +1), then changed.</p>
  <div id="a" data-feedback-interaction-id="1" data-feedback-rating="1" data-feedback-labelledby="qa"></div></article>
<article><h2 id="qb">Unreachable</h2><p>An answer whose rating cannot reach the service.</p>
  <div id="b" data-feedback-interaction-id="2" data-feedback-labelledby="qb"></div></article>
<article><h2 id="qc">Focused</h2><p>An answer not rated yet, its thumbs-up focused from the keyboard.</p>
  <div id="c" data-feedback-interaction-id="3" data-feedback-labelledby="qc"></div></article>"""

CHAT_SCRIPT = """
FeedbackWidget.mount(document.getElementById("a"), {token, statusTimeout: 0});
// Nothing listens on port 9: fetch rejects, the longest message.
FeedbackWidget.mount(document.getElementById("b"), {token, endpoint: "http://127.0.0.1:9", retries: 0});
FeedbackWidget.mount(document.getElementById("c"), {token});"""

MODES = ["light", "dark", "phone-light", "phone-dark"]


def set_mode(browser, mode):
    if mode.endswith("dark"):
        emulate_dark(browser)
    if mode.startswith("phone"):
        emulate_phone(browser)


def chat_with_states(browser, stack, embed, embed_dir, name):
    """The chat page with a saved rating, an error message and a keyboard-focused button."""
    host_page(browser, embed, embed_dir, stack, name, CHAT_BODY, CHAT_SCRIPT, head=CHAT_HEAD)
    button(browser, "#a", "down").click()
    wait_state(browser, "#a", "saved")
    button(browser, "#b", "up").click()
    wait_state(browser, "#b", "error")
    button(browser, "#b", "down").send_keys(Keys.TAB)  # keyboard focus: :focus-visible
    assert browser.switch_to.active_element == button(browser, "#c", "up")


def page_background(browser):
    return rgb(style(browser, browser.find_element(By.TAG_NAME, "body"), "background-color"))


def check_sizes(browser, minimum):
    for element in browser.find_elements(By.CSS_SELECTOR, ".fbw button"):
        size = element.size
        assert size["width"] >= minimum and size["height"] >= minimum, size


def check_nothing_clipped(browser):
    """No sideways scrolling; every status line fits its box and the viewport."""
    assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth")
    for line in browser.find_elements(By.CSS_SELECTOR, ".fbw-status"):
        fits = browser.execute_script("""const s = arguments[0], r = s.getBoundingClientRect();
return s.scrollWidth <= s.clientWidth && s.scrollHeight <= s.clientHeight + 1 && r.left >= 0 && r.right <= innerWidth""", line)
        assert fits, line.text


@pytest.mark.parametrize("mode", MODES)
def test_looks(browser, stack, embed, embed_dir, screenshots, mode):
    set_mode(browser, mode)
    chat_with_states(browser, stack, embed, embed_dir, f"look-{mode}")
    assert stack.rating(1) == -1
    background = page_background(browser)
    dark = mode.endswith("dark")
    assert (sum(background) < 150) == dark

    check_sizes(browser, 44 if mode.startswith("phone") else 24)
    check_nothing_clipped(browser)
    # No blank row under a widget without a message: the (empty) status line stays beside the buttons.
    assert widget(browser, "#c").size["height"] <= button(browser, "#c", "up").size["height"] + 1
    assert "Couldn't reach the feedback service" in status(browser, "#b").text
    assert "saved" in status(browser, "#a").text

    # Text on the page's background: 4.5:1. The icons and the buttons' edges: 3:1 (WCAG 1.4.11).
    for anchor in ("#a", "#b"):
        assert contrast(rgb(style(browser, status(browser, anchor), "color")), background) >= 4.5, anchor
    for element in browser.find_elements(By.CSS_SELECTOR, ".fbw button"):
        face = rgb(style(browser, element, "background-color"))
        assert (sum(face) < 200) == dark, face
        assert contrast(rgb(style(browser, element, "color")), face) >= 4.5
        assert contrast(rgb(style(browser, element, "border-top-color")), background) >= 3
    focused = button(browser, "#c", "up")
    assert style(browser, focused, "outline-style") == "solid"
    assert contrast(rgb(style(browser, focused, "outline-color")), background) >= 3
    pressed = button(browser, "#a", "down")
    unpressed = button(browser, "#a", "up")
    assert style(browser, pressed, "background-color") != style(browser, unpressed, "background-color")
    assert style(browser, pressed, "box-shadow") != "none", "pressed is not told by colour alone"

    browser.save_screenshot(str(screenshots / f"chat-{mode}.png"))

    # The demo page, with one rating saved.
    open_demo(browser, stack, stack.token())
    button(browser, "#rate-2", "up").click()
    wait_state(browser, "#rate-2", "saved")
    check_sizes(browser, 44 if mode.startswith("phone") else 24)
    check_nothing_clipped(browser)
    browser.save_screenshot(str(screenshots / f"demo-{mode}.png"))


def test_coarse_pointer_without_a_small_viewport_still_gets_44px(browser, stack):
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    open_demo(browser, stack, stack.token())
    assert browser.execute_script("return matchMedia('(pointer: coarse)').matches")
    check_sizes(browser, 44)


def test_fine_pointer_sizes_and_a_host_asking_for_smaller(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "sizes", """
<div id="a" data-feedback-interaction-id="1"></div>
<div id="b" data-feedback-interaction-id="2" style="--feedback-size: 12px"></div>""",
              "FeedbackWidget.mountAll(document, {token});")
    assert button(browser, "#a", "up").size["height"] >= 32
    check_sizes(browser, 24)  # --feedback-size below 24 px is raised to 24 px


def test_host_overrides_and_theme_attribute(browser, stack, embed, embed_dir):
    head = """<style>
.custom { --feedback-accent: rgb(200, 0, 100); --feedback-bg: rgb(250, 250, 210); --feedback-fg: rgb(10, 20, 30); }
.fbw button { border-radius: 0; }
</style>"""
    host_page(browser, embed, embed_dir, stack, "overrides", """
<div class="custom"><div id="a" data-feedback-interaction-id="1" data-feedback-rating="1"></div></div>
<div id="light" data-feedback-interaction-id="2" data-feedback-theme="light"></div>
<div id="dark" data-feedback-interaction-id="3" data-feedback-theme="dark"></div>
<div id="auto" data-feedback-interaction-id="3"></div>""", "FeedbackWidget.mountAll(document, {token});", head=head)

    def face(anchor, which="up"):
        return rgb(style(browser, button(browser, anchor, which), "background-color"))

    def check(scheme):
        assert rgb(style(browser, button(browser, "#a", "up"), "color")) == (200, 0, 100)  # pressed: the accent
        assert face("#a", "down") == (250, 250, 210)
        assert rgb(style(browser, button(browser, "#a", "down"), "color")) == (10, 20, 30)
        assert style(browser, button(browser, "#a", "down"), "border-top-left-radius") == "0px"
        assert face("#light") == (255, 255, 255)
        assert face("#dark") == (45, 46, 49)
        assert face("#auto") == ((45, 46, 49) if scheme == "dark" else (255, 255, 255))

    check("light")
    emulate_dark(browser)
    check("dark")


AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    "rules": {"target-size": {"enabled": True}},
}


def axe_check(browser):
    Axe(browser).inject()
    results = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"axe.run(document, {json.dumps(AXE_OPTIONS)}).then(done, (e) => done({{error: String(e)}}));")
    assert "error" not in results, results
    assert results["violations"] == [], Axe.report(results["violations"])
    checked = {rule["id"] for rule in results["passes"]}
    assert {"target-size", "aria-allowed-attr", "button-name", "color-contrast"} <= checked, checked


@pytest.mark.parametrize("mode", MODES)
def test_axe_finds_no_violation(browser, stack, embed, embed_dir, mode):
    set_mode(browser, mode)
    open_demo(browser, stack, stack.token())
    button(browser, "#rate-1", "up").click()
    wait_state(browser, "#rate-1", "saved")
    axe_check(browser)
    chat_with_states(browser, stack, embed, embed_dir, f"axe-{mode}")
    axe_check(browser)
    names = [w.accessible_name for w in browser.find_elements(By.CSS_SELECTOR, ".fbw")]
    assert len(set(names)) == len(names) == 3
    assert widget(browser, "#b").get_attribute("data-outcome") == "network"
