"""The widget in a real headless Chromium: clicks, keyboard, another origin, error states, retries."""
import threading
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait


def widget(browser, anchor):
    return browser.find_element(By.CSS_SELECTOR, f"{anchor} .fbw")


def wait_state(browser, anchor, state, timeout=15):
    WebDriverWait(browser, timeout).until(lambda b: widget(b, anchor).get_attribute("data-state") == state)


def open_demo(browser, stack, token):
    browser.get(f"{stack.url}/#token={token}")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#rate-1 .fbw-up"))


def test_demo_page_thumbs_up_then_down(browser, stack):
    open_demo(browser, stack, stack.token())
    up = browser.find_element(By.CSS_SELECTOR, "#rate-1 .fbw-up")
    down = browser.find_element(By.CSS_SELECTOR, "#rate-1 .fbw-down")
    assert up.get_attribute("aria-pressed") == "false"

    up.click()
    wait_state(browser, "#rate-1", "saved")
    assert stack.rating(1) == 1
    assert up.get_attribute("aria-pressed") == "true"
    assert down.get_attribute("aria-pressed") == "false"

    down.click()
    wait_state(browser, "#rate-1", "saved")
    assert stack.rating(1) == -1
    assert down.get_attribute("aria-pressed") == "true"
    assert up.get_attribute("aria-pressed") == "false"
    assert "saved" in browser.find_element(By.CSS_SELECTOR, "#rate-1 .fbw-status").text
    assert stack.rating(2) is None


def test_keyboard_only(browser, stack):
    open_demo(browser, stack, stack.token())
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)  # first focusable element: interaction 1's thumbs-up
    focused = browser.switch_to.active_element
    assert focused.get_attribute("class") == "fbw-up"
    focused.send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("class") == "fbw-down"
    focused.send_keys(Keys.SPACE)
    wait_state(browser, "#rate-1", "saved")
    assert stack.rating(1) == -1
    outline = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focused button has no visible focus ring"


def test_embedded_on_another_origin(browser, stack, embed, embed_dir):
    token = stack.token()
    (embed_dir / "embed.html").write_text(f"""<!doctype html><meta charset="utf-8">
<p>An answer on another site.</p><div id="w"></div>
<script src="{stack.url}/widget/feedback.js"></script>
<script>FeedbackWidget.mount(document.getElementById("w"), {{interactionId: 3, token: "{token}"}});</script>""")
    browser.get(f"{embed.origin}/embed.html")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#w .fbw-up"))
    browser.find_element(By.CSS_SELECTOR, "#w .fbw-up").click()
    wait_state(browser, "#w", "saved")
    assert stack.rating(3) == 1


def test_origin_not_allowed_is_blocked(browser, stack, embed_dir):
    # Same page, served from an origin the gateway does not list: the browser's CORS check fails.
    from conftest import EmbedServer
    other = EmbedServer(embed_dir)
    try:
        token = stack.token()
        (embed_dir / "blocked.html").write_text(f"""<!doctype html><meta charset="utf-8"><div id="w"></div>
<script src="{stack.url}/widget/feedback.js"></script>
<script>FeedbackWidget.mount(document.getElementById("w"), {{interactionId: 3, token: "{token}", retries: 0}});</script>""")
        browser.get(f"{other.origin}/blocked.html")
        WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#w .fbw-up"))
        browser.find_element(By.CSS_SELECTOR, "#w .fbw-up").click()
        wait_state(browser, "#w", "error")
        assert stack.rating(3) is None
    finally:
        other.close()


def test_unauthorized_and_not_found_states(browser, stack):
    open_demo(browser, stack, "not-a-token")
    browser.find_element(By.CSS_SELECTOR, "#rate-1 .fbw-up").click()
    wait_state(browser, "#rate-1", "error")
    assert widget(browser, "#rate-1").get_attribute("data-http-status") == "401"
    assert "sign in" in browser.find_element(By.CSS_SELECTOR, "#rate-1 .fbw-status").text.lower()
    assert browser.find_element(By.CSS_SELECTOR, "#rate-1 .fbw-up").get_attribute("aria-pressed") == "false"

    token = stack.token()
    browser.get(f"{stack.url}/#token={token}")
    browser.execute_script(
        "var d = document.createElement('div'); d.id = 'gone'; document.body.appendChild(d);"
        "FeedbackWidget.mount(d, {interactionId: 999, token: arguments[0]});", token)
    browser.find_element(By.CSS_SELECTOR, "#gone .fbw-down").click()
    wait_state(browser, "#gone", "error")
    assert widget(browser, "#gone").get_attribute("data-http-status") == "404"
    assert "no longer" in browser.find_element(By.CSS_SELECTOR, "#gone .fbw-status").text


def test_503_is_retried_with_backoff(browser, stack):
    open_demo(browser, stack, stack.token())
    stack.stop_feedbackd()
    browser.find_element(By.CSS_SELECTOR, "#rate-2 .fbw-up").click()
    wait_state(browser, "#rate-2", "retrying", timeout=5)
    stack.start_feedbackd()
    wait_state(browser, "#rate-2", "saved", timeout=15)
    assert stack.rating(2) == 1
