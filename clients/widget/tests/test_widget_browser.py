"""The widget in a real headless Chromium: the demo page, clicks, keyboard, another origin, retries."""
import http.client
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from widget_support import button, feedback_requests, open_demo, pressed, status, wait_state, widget


def test_demo_page_thumbs_up_then_down(browser, stack):
    open_demo(browser, stack, stack.token())
    up = button(browser, "#rate-1", "up")
    down = button(browser, "#rate-1", "down")
    assert up.get_attribute("aria-pressed") == "false"

    up.click()
    wait_state(browser, "#rate-1", "saved")
    assert stack.rating(1) == 1
    assert up.get_attribute("aria-pressed") == "true"
    assert down.get_attribute("aria-pressed") == "false"
    assert widget(browser, "#rate-1").get_attribute("data-http-status") == "204"
    assert widget(browser, "#rate-1").get_attribute("data-outcome") == "saved"

    down.click()
    wait_state(browser, "#rate-1", "saved")
    assert stack.rating(1) == -1
    assert down.get_attribute("aria-pressed") == "true"
    assert up.get_attribute("aria-pressed") == "false"
    assert "saved" in status(browser, "#rate-1").text
    assert stack.rating(2) is None


def test_demo_page_shows_every_seeded_answer_named_after_its_question(browser, make_stack):
    stack = make_stack(gateway_args=["--log-requests", "all", "--log-level", "info"])
    open_demo(browser, stack, stack.token())
    # scripts/demo.sh seeds interactions 1, 2 and 3: one widget each, named after the question.
    groups = browser.find_elements(By.CSS_SELECTOR, "[data-feedback-interaction-id] > .fbw")
    assert [g.accessible_name for g in groups] == [
        "Rate answer: How do I reverse a list in Python?",
        "Rate answer: What is the capital of Australia?",
        "Rate answer: What does HTTP 204 mean?",
    ]
    button(browser, "#rate-3", "up").click()
    wait_state(browser, "#rate-3", "saved")
    assert stack.rating(3) == 1
    # No favicon request (the page names an empty data: icon): the gateway logged the page, the script and
    # the rating, and nothing else.
    log = stack.tmp / "gateway.log"
    WebDriverWait(browser, 10).until(lambda _: "http.path=/feedback " in log.read_text())
    assert browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href").startswith("data:")
    paths = [line.split("http.path=")[1].split()[0] for line in log.read_text().splitlines() if "http.access" in line]
    assert "/favicon.ico" not in paths, paths
    assert set(paths) <= {"/healthz", "/", "/widget/feedback.js", "/feedback"}, paths


def test_demo_page_works_under_its_content_security_policy(browser, stack):
    # Every violation the page reports, from before its first script runs.
    recorder = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.effectiveDirective + " " + e.blockedURI));
"""})
    try:
        open_demo(browser, stack, stack.token())
        # The page's own style and the widget's apply; the widget's <style> took the script's nonce.
        assert browser.execute_script("return getComputedStyle(document.body).maxWidth") != "none"
        assert browser.execute_script("return getComputedStyle(document.querySelector('.fbw')).display") == "flex"
        assert browser.execute_script("return document.getElementById('feedback-widget-style').nonce") != ""
        button(browser, "#rate-1", "up").click()  # connect-src 'self'
        wait_state(browser, "#rate-1", "saved")
        assert stack.rating(1) == 1
        assert browser.execute_script("return window.violations") == []
        # The policy is in force: a script without the nonce does not run, and is reported.
        browser.execute_script("const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
                               "document.body.appendChild(s);")
        WebDriverWait(browser, 10).until(lambda b: b.execute_script("return window.violations.length") > 0)
        assert browser.execute_script("return window.violations") == ["script-src-elem inline"]
        assert browser.execute_script("return window.injected === undefined")
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": recorder["identifier"]})


def test_no_site_may_frame_the_demo_page(browser, stack, embed, embed_dir):
    (embed_dir / "frames-demo.html").write_text(f"""<!doctype html><meta charset="utf-8"><title>frame</title>
<iframe id="demo" src="{stack.url}/#token=x" onload="window.frameLoaded = true"></iframe>""")
    browser.get(f"{embed.origin}/frames-demo.html")
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return window.frameLoaded === true"))
    browser.switch_to.frame(browser.find_element(By.ID, "demo"))
    try:
        # frame-ancestors 'none': Chromium shows its error page in the frame, never the demo.
        assert browser.find_elements(By.CSS_SELECTOR, "[data-feedback-interaction-id]") == []
    finally:
        browser.switch_to.default_content()


def test_head_is_answered_as_get_without_a_body_on_a_kept_alive_connection(stack):
    address = urllib.parse.urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        for path in ("/", "/widget/feedback.js", "/openapi.json", "/healthz"):
            connection.request("GET", path)
            get = connection.getresponse()
            body = get.read()
            connection.request("HEAD", path)
            head = connection.getresponse()
            assert (head.status, head.read()) == (get.status, b""), path
            assert head.getheader("Content-Length") == str(len(body)), path
            assert head.getheader("Content-Type") == get.getheader("Content-Type"), path
            assert head.getheader("X-Content-Type-Options") == "nosniff", path
        # The connection is still in step: nothing of a body came after a HEAD's head.
        connection.request("GET", "/healthz")
        assert connection.getresponse().read() == b'{"status":"SERVING"}'
    finally:
        connection.close()


def test_demo_page_shows_ratings_after_a_reload_without_a_request(browser, stack):
    token = stack.token()
    open_demo(browser, stack, token)
    button(browser, "#rate-2", "down").click()
    wait_state(browser, "#rate-2", "saved")
    browser.refresh()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#rate-3 .fbw"))
    assert pressed(browser, "#rate-2") == -1
    assert pressed(browser, "#rate-1") == 0
    assert widget(browser, "#rate-2").get_attribute("data-state") == "idle"
    assert status(browser, "#rate-2").text == ""
    assert feedback_requests(browser) == 0


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
    focused.send_keys(Keys.SHIFT, Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(browser, 15).until(lambda _: stack.rating(1) == 1)
    wait_state(browser, "#rate-1", "saved")
    assert pressed(browser, "#rate-1") == 1


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
    # Same page, served from an origin the gateway does not list: the browser's CORS check fails, fetch
    # rejects without a response while the browser is online.
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
        assert widget(browser, "#w").get_attribute("data-outcome") == "network"
        assert widget(browser, "#w").get_attribute("data-http-status") is None
        assert "Couldn't reach the feedback service" in status(browser, "#w").text
    finally:
        other.close()


def test_unauthorized_and_not_found_states(browser, stack):
    open_demo(browser, stack, "not-a-token")
    button(browser, "#rate-1", "up").click()
    wait_state(browser, "#rate-1", "error")
    assert widget(browser, "#rate-1").get_attribute("data-http-status") == "401"
    assert widget(browser, "#rate-1").get_attribute("data-outcome") == "unauthorized"
    assert "sign in again" in status(browser, "#rate-1").text.lower()
    assert button(browser, "#rate-1", "up").get_attribute("aria-pressed") == "false"

    token = stack.token()
    browser.get(f"{stack.url}/#token={token}")
    browser.execute_script(
        "const d = document.createElement('div'); d.id = 'gone'; document.body.appendChild(d);"
        "FeedbackWidget.mount(d, {interactionId: 999, token: arguments[0]});", token)
    button(browser, "#gone", "down").click()
    wait_state(browser, "#gone", "error")
    assert widget(browser, "#gone").get_attribute("data-http-status") == "404"
    assert widget(browser, "#gone").get_attribute("data-outcome") == "not-found"
    assert "no longer" in status(browser, "#gone").text


def test_503_is_retried_with_backoff(browser, stack):
    open_demo(browser, stack, stack.token())
    stack.stop_feedbackd()
    button(browser, "#rate-2", "up").click()
    wait_state(browser, "#rate-2", "waiting", timeout=5)
    assert "will be sent as soon as it's back" in status(browser, "#rate-2").text
    assert widget(browser, "#rate-2").get_attribute("data-http-status") == "503"
    stack.start_feedbackd()
    wait_state(browser, "#rate-2", "saved", timeout=15)
    assert stack.rating(2) == 1
    assert widget(browser, "#rate-2").get_attribute("data-http-status") == "204"
