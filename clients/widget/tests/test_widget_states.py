"""The widget's states against the real gateway: the host's initial rating, accessible names, each
failure's own message, timeouts, the status line clearing, and interaction ids past 2^53."""
import json
import signal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from widget_support import (button, feedback_requests, host_page, offline, pressed, sent, status, wait_state,
                            widget)


def test_initial_rating_from_the_host_is_shown_without_a_request(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "initial", """
<div id="a" data-feedback-interaction-id="1" data-feedback-rating="1"></div>
<div id="b" data-feedback-interaction-id="2" data-feedback-rating="-1"></div>
<div id="c" data-feedback-interaction-id="3" data-feedback-rating="7"></div>
<div id="d" data-feedback-interaction-id="2" data-feedback-rating="1"></div>
<div id="e"></div>""", """
let badToken = true;
window.widgets = FeedbackWidget.mountAll(document, {getToken: () => (badToken ? "bad" : token)});
// An option wins over the attribute.
FeedbackWidget.mount(document.getElementById("d"), {interactionId: 2, token, initialRating: -1});
FeedbackWidget.mount(document.getElementById("e"), {interactionId: 3, token, initialRating: 1});
window.fixToken = () => { badToken = false; };""")
    assert [pressed(browser, f"#{anchor}") for anchor in "abcde"] == [1, -1, 0, -1, 1]
    for anchor, rating in zip("abcde", ["1", "-1", "0", "-1", "1"]):
        assert widget(browser, f"#{anchor}").get_attribute("data-rating") == rating
        assert widget(browser, f"#{anchor}").get_attribute("data-state") == "idle"
        assert widget(browser, f"#{anchor}").get_attribute("data-http-status") is None
        assert status(browser, f"#{anchor}").text == ""
    assert feedback_requests(browser) == 0
    assert sent(browser) == []

    # A failed change goes back to the host's rating, not to "unrated".
    button(browser, "#a", "down").click()
    wait_state(browser, "#a", "error")
    assert widget(browser, "#a").get_attribute("data-http-status") == "401"
    assert pressed(browser, "#a") == 1
    assert stack.rating(1) is None
    browser.execute_script("fixToken()")
    button(browser, "#a", "down").click()
    wait_state(browser, "#a", "saved")
    assert pressed(browser, "#a") == -1
    assert stack.rating(1) == -1
    # data-http-status follows every attempt: no 401 left behind after the success.
    assert widget(browser, "#a").get_attribute("data-http-status") == "204"
    assert widget(browser, "#a").get_attribute("data-outcome") == "saved"


def test_each_group_is_named_after_its_answer(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "names", """
<h2 id="h1">Reversing a list</h2><div id="a" data-feedback-interaction-id="1" data-feedback-labelledby="h1"></div>
<p id="p2">Answer about Canberra</p><p id="p2b">(short)</p>
<div id="b" data-feedback-interaction-id="2" data-feedback-labelledby="p2 p2b"></div>
<div id="c" data-feedback-interaction-id="3" data-feedback-label="Rate the answer about HTTP 204"></div>
<div id="d" data-feedback-interaction-id="1" data-feedback-labelledby="no-such-id"></div>
<div id="e" data-feedback-interaction-id="2"></div>
<div id="f"></div>""", """
FeedbackWidget.mountAll(document, {token});
FeedbackWidget.mount(document.getElementById("f"), {interactionId: 3, token, label: "Rate it", labelledBy: "h1"});""")
    names = {anchor: widget(browser, f"#{anchor}").accessible_name for anchor in "abcdef"}
    assert names == {
        "a": "Rate answer: Reversing a list",
        "b": "Rate answer: Answer about Canberra (short)",
        "c": "Rate the answer about HTTP 204",
        "d": "Rate answer 4",  # its heading is missing: numbered, as if it had none
        "e": "Rate answer 5",
        "f": "Rate it",  # the label option wins
    }
    for anchor in "abcdef":
        assert widget(browser, f"#{anchor}").get_attribute("role") == "group"
        assert button(browser, f"#{anchor}", "up").accessible_name == "Good answer"
        assert button(browser, f"#{anchor}", "down").accessible_name == "Bad answer"


def test_saved_message_clears_and_is_announced_politely(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "clears", """
<div id="a" data-feedback-interaction-id="1"></div><div id="b" data-feedback-interaction-id="2"></div>""", """
FeedbackWidget.mount(document.getElementById("a"), {interactionId: 1, token, statusTimeout: 300});
FeedbackWidget.mount(document.getElementById("b"), {interactionId: 2, token: "bad", errorTimeout: 300});
// Every text the status lines show, in order (too brief to poll for).
window.said = {a: [], b: []};
for (const id of ["a", "b"]) {
  const line = document.querySelector(`#${id} .fbw-status`);
  new MutationObserver(() => said[id].push(line.textContent)).observe(line, {childList: true, characterData: true, subtree: true});
}""")
    line = status(browser, "#a")
    assert (line.get_attribute("role"), line.get_attribute("aria-live"), line.get_attribute("aria-atomic")) == (
        "status", "polite", "true")
    button(browser, "#a", "up").click()
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return said.a").count("") == 1)
    assert browser.execute_script("return said.a") == ["Saving…", "Thanks, your rating is saved.", ""]
    assert line.text == ""
    # The outcome stays on the root; only the words go.
    assert widget(browser, "#a").get_attribute("data-state") == "saved"
    assert widget(browser, "#a").get_attribute("data-outcome") == "saved"
    assert line.get_attribute("data-state") is None
    assert pressed(browser, "#a") == 1

    button(browser, "#b", "up").click()
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return said.b").count("") == 1)
    assert browser.execute_script("return said.b") == ["Saving…", "Please sign in again to rate this answer.", ""]
    assert widget(browser, "#b").get_attribute("data-outcome") == "unauthorized"


def test_default_timeouts(browser, stack):
    browser.get(f"{stack.url}/#token=x")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#rate-1 .fbw"))
    widgets = browser.execute_script("return window.widgets.map(w => [w.timeout, w.statusTimeout, w.errorTimeout, w.retries, w.waitFor])")
    assert widgets == [[8000, 4000, 0, 3, 60000]] * 3


def test_a_click_while_offline_is_kept_and_sent_once_online(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "offline-kept", """<div id="a" data-feedback-interaction-id="1"></div>""",
              "FeedbackWidget.mountAll(document, {token});")
    with offline(browser):
        button(browser, "#a", "up").click()
        wait_state(browser, "#a", "waiting")
        assert "offline" in status(browser, "#a").text and "will be sent" in status(browser, "#a").text
        assert pressed(browser, "#a") == 1, "the click is shown as made, pending"
    # Back online: sent without another click.
    wait_state(browser, "#a", "saved")
    assert stack.rating(1) == 1
    assert widget(browser, "#a").get_attribute("data-http-status") == "204"


def test_offline_then_online(browser, stack, embed, embed_dir):
    # waitFor 0: a click made offline fails at once (the behaviour before waitFor).
    host_page(browser, embed, embed_dir, stack, "offline", """<div id="a" data-feedback-interaction-id="1"></div>""",
              "FeedbackWidget.mountAll(document, {token, waitFor: 0});")
    with offline(browser):
        button(browser, "#a", "up").click()
        wait_state(browser, "#a", "error")
        assert widget(browser, "#a").get_attribute("data-outcome") == "offline"
        assert widget(browser, "#a").get_attribute("data-http-status") is None
        assert "offline" in status(browser, "#a").text
        assert "busy" not in status(browser, "#a").text
        assert pressed(browser, "#a") == 0
        assert len(sent(browser)) == 1, "offline is not retried"
    WebDriverWait(browser, 5).until(lambda b: b.execute_script("return navigator.onLine") is True)
    button(browser, "#a", "up").click()
    wait_state(browser, "#a", "saved")
    assert widget(browser, "#a").get_attribute("data-outcome") == "saved"
    assert widget(browser, "#a").get_attribute("data-http-status") == "204"
    assert stack.rating(1) == 1


def test_a_request_past_the_timeout_is_aborted(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "timeout", """<div id="a" data-feedback-interaction-id="1"></div>""",
              """window.errors = [];
FeedbackWidget.mountAll(document, {token, timeout: 500, onError: (status, info) => errors.push([status, info.outcome])});""")
    # feedbackd stopped (not dead): the gateway waits for it (up to its own 6 s deadline, then 504).
    stack.feedbackd.send_signal(signal.SIGSTOP)
    try:
        button(browser, "#a", "up").click()
        wait_state(browser, "#a", "error", timeout=4)  # well before the gateway's 504
        assert widget(browser, "#a").get_attribute("data-outcome") == "timeout"
        assert widget(browser, "#a").get_attribute("data-http-status") is None
        assert "didn't answer in time" in status(browser, "#a").text
        assert pressed(browser, "#a") == 0
        assert browser.execute_script("return errors") == [[0, "timeout"]]
        assert len(sent(browser)) == 1, "a timeout is not retried"
    finally:
        stack.feedbackd.send_signal(signal.SIGCONT)


def test_503_busy_after_the_retries(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "busy503", """<div id="a" data-feedback-interaction-id="1"></div>""",
              "FeedbackWidget.mountAll(document, {token, retries: 1, waitFor: 0});")
    stack.stop_feedbackd()
    button(browser, "#a", "down").click()
    wait_state(browser, "#a", "error")
    assert len(sent(browser)) == 2
    assert widget(browser, "#a").get_attribute("data-http-status") == "503"
    assert widget(browser, "#a").get_attribute("data-outcome") == "busy"
    assert "busy right now" in status(browser, "#a").text


def test_504_busy(browser, make_stack, embed, embed_dir):
    # One connection to feedbackd, made at start (the health check): the call waits on it, not on a connect.
    stack = make_stack(gateway_args=["--timeout-ms", "300", "--pool-size", "1"])
    host_page(browser, embed, embed_dir, stack, "busy504", """<div id="a" data-feedback-interaction-id="1"></div>""",
              "FeedbackWidget.mountAll(document, {token, retries: 0, waitFor: 0});")
    stack.feedbackd.send_signal(signal.SIGSTOP)
    try:
        button(browser, "#a", "up").click()
        wait_state(browser, "#a", "error")
        assert widget(browser, "#a").get_attribute("data-http-status") == "504"
        assert widget(browser, "#a").get_attribute("data-outcome") == "busy"
        assert "busy right now" in status(browser, "#a").text
    finally:
        stack.feedbackd.send_signal(signal.SIGCONT)


def test_403_asks_to_sign_in_again(browser, make_stack, embed, embed_dir):
    stack = make_stack(feedbackd_args=["--jwt-required-scope", "feedback:write"])  # stack.token() has none
    host_page(browser, embed, embed_dir, stack, "forbidden", """<div id="a" data-feedback-interaction-id="1"></div>""",
              "FeedbackWidget.mountAll(document, {token});")
    button(browser, "#a", "up").click()
    wait_state(browser, "#a", "error")
    assert widget(browser, "#a").get_attribute("data-http-status") == "403"
    assert widget(browser, "#a").get_attribute("data-outcome") == "unauthorized"
    assert "sign in again" in status(browser, "#a").text


def test_a_failing_getToken_asks_to_sign_in(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "gettoken", """<div id="a" data-feedback-interaction-id="1"></div>""",
              "FeedbackWidget.mountAll(document, {getToken: async () => { throw new Error('logged out'); }});")
    button(browser, "#a", "up").click()
    wait_state(browser, "#a", "error")
    assert widget(browser, "#a").get_attribute("data-outcome") == "unauthorized"
    assert sent(browser) == []


def test_other_errors_get_a_generic_message_and_the_detail_goes_to_onError(browser, stack, embed, embed_dir):
    # An id past the signed 64-bit range: 422 with pydantic's error list.
    host_page(browser, embed, embed_dir, stack, "generic",
              """<div id="a" data-feedback-interaction-id="99999999999999999999"></div>""",
              """window.errors = [];
FeedbackWidget.mountAll(document, {token, onError: (status, info) => errors.push([status, info.outcome, info.detail, info.message])});""")
    button(browser, "#a", "up").click()
    wait_state(browser, "#a", "error")
    assert widget(browser, "#a").get_attribute("data-http-status") == "422"
    assert widget(browser, "#a").get_attribute("data-outcome") == "failed"
    text = status(browser, "#a").text
    assert text == "Sorry, your rating couldn't be saved."
    [[code, outcome, detail, message]] = browser.execute_script("return errors")
    assert (code, outcome, message) == (422, "failed", text)
    assert "less than or equal to 9223372036854775807" in detail


BIG = 2**53 + 1  # 9007199254740993: a JS number would round it to 2^53


def test_interaction_ids_past_2_53_are_sent_exactly(browser, make_stack, embed, embed_dir):
    stack = make_stack(interactions=(1, 2**53, BIG, 2**63 - 1))
    host_page(browser, embed, embed_dir, stack, "bigid", f"""
<div id="big" data-feedback-interaction-id="{BIG}"></div>
<div id="max" data-feedback-interaction-id=" 0{2**63 - 1} "></div>
<div id="small" data-feedback-interaction-id="1"></div>""", "FeedbackWidget.mountAll(document, {token});")
    button(browser, "#big", "up").click()
    wait_state(browser, "#big", "saved")
    button(browser, "#max", "down").click()
    wait_state(browser, "#max", "saved")
    button(browser, "#small", "down").click()
    wait_state(browser, "#small", "saved")
    assert sent(browser) == [
        f'{{"interaction_id":"{BIG}","rating":1}}',  # past Number.MAX_SAFE_INTEGER: a digit string
        f'{{"interaction_id":"{2**63 - 1}","rating":-1}}',
        '{"interaction_id":1,"rating":-1}',  # a safe integer: a number
    ]
    assert stack.rating(BIG) == 1
    assert stack.rating(2**53) is None, "the neighbour a rounded id would have hit"
    assert stack.rating(2**63 - 1) == -1
    assert stack.rating(1) == -1
    assert browser.execute_script("return window.FeedbackWidget.mountAll(document).map(w => w.interactionId)") == [
        str(BIG), str(2**63 - 1), "1"]


@pytest.mark.parametrize("bad", ["9007199254740993", "'12abc'", "1.5", "''"])
def test_ids_that_are_not_exact_integers_are_refused_at_mount(browser, stack, bad):
    browser.get(f"{stack.url}/#token=x")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#rate-1 .fbw"))
    error = browser.execute_script(f"""try {{
  FeedbackWidget.mount(document.createElement("div"), {{interactionId: {bad}}}); return null;
}} catch (e) {{ return e.message; }}""")
    assert error and error.startswith("FeedbackWidget: interactionId"), error


def test_the_last_click_is_the_rating_stored(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "lastclick", """<div id="a" data-feedback-interaction-id="1"></div>""",
              "FeedbackWidget.mountAll(document, {token});")
    # Three clicks in one task: the first two are superseded before their turn and never sent.
    browser.execute_script("""const [up, down] = document.querySelectorAll("#a button");
up.click(); down.click(); up.click();""")
    wait_state(browser, "#a", "saved")
    assert pressed(browser, "#a") == 1
    assert stack.rating(1) == 1
    assert sent(browser) == ['{"interaction_id":1,"rating":1}']
    # And one click while another is in flight: sent after it, so it is the one stored.
    browser.execute_script("""const [up, down] = document.querySelectorAll("#a button");
down.click(); setTimeout(() => up.click(), 1); setTimeout(() => down.click(), 5);""")
    WebDriverWait(browser, 10).until(lambda b: len(sent(b)) >= 3)
    wait_state(browser, "#a", "saved")
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return !document.querySelector('#a .fbw').hasAttribute('aria-busy')"))
    assert pressed(browser, "#a") == -1
    assert stack.rating(1) == -1
    assert json.loads(sent(browser)[-1]) == {"interaction_id": 1, "rating": -1}


def test_mount_all_mounts_every_valid_element_and_reports_the_bad_ones(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "badids", """
<div id="a" data-feedback-interaction-id="1"></div>
<div id="bad1" data-feedback-interaction-id="abc"></div>
<div id="b" data-feedback-interaction-id="2"></div>
<div id="bad2" data-feedback-interaction-id="1.5"></div>
<div id="c" data-feedback-interaction-id="3"></div>""", """
window.logged = [];
const consoleError = console.error;
console.error = (...args) => {
  window.logged.push(args.map((a) => (a instanceof Element ? "#" + a.id : String(a))).join(" "));
  consoleError(...args);
};
window.mounted = FeedbackWidget.mountAll(document, {token});""")
    # Every element after a bad one is mounted all the same (version 2.0 stopped at the first).
    assert browser.execute_script("return window.mounted.map((w) => w.interactionId)") == ["1", "2", "3"]
    assert [bool(browser.find_elements(By.CSS_SELECTOR, f"#{anchor} .fbw")) for anchor in
            ("a", "bad1", "b", "bad2", "c")] == [True, False, True, False, True]
    not_integer = 'FeedbackWidget: interactionId must be an integer, got "{}"'
    assert browser.execute_script("return window.mounted.failed.map((f) => [f.element.id, f.error.message])") == [
        ["bad1", not_integer.format("abc")], ["bad2", not_integer.format("1.5")]]
    assert browser.execute_script("return window.logged") == [
        "FeedbackWidget.mountAll: element not mounted: " + not_integer.format("abc") + " #bad1",
        "FeedbackWidget.mountAll: element not mounted: " + not_integer.format("1.5") + " #bad2"]
    button(browser, "#c", "up").click()
    wait_state(browser, "#c", "saved")
    assert stack.rating(3) == 1
    # Again: the widgets mounted are kept, the bad elements reported again.
    again = browser.execute_script("""const again = FeedbackWidget.mountAll(document, {token});
return [again.every((w, i) => w === window.mounted[i]), again.length, again.failed.length]""")
    assert again == [True, 3, 2]


def test_a_click_while_feedbackd_is_down_is_kept_and_sent_when_it_is_back(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "kept", """<div id="a" data-feedback-interaction-id="2"></div>""",
              "FeedbackWidget.mountAll(document, {token});")
    stack.stop_feedbackd()
    button(browser, "#a", "down").click()
    wait_state(browser, "#a", "waiting")
    assert "unavailable right now" in status(browser, "#a").text
    assert widget(browser, "#a").get_attribute("data-http-status") == "503"
    assert pressed(browser, "#a") == -1
    WebDriverWait(browser, 30).until(lambda b: len(sent(b)) >= 3)  # sent again meanwhile, not given up
    assert widget(browser, "#a").get_attribute("data-state") == "waiting"
    stack.start_feedbackd()
    wait_state(browser, "#a", "saved", timeout=60)
    assert stack.rating(2) == -1


def test_a_kept_click_gives_up_after_waitFor(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "kept-bounded", """<div id="a" data-feedback-interaction-id="2"></div>""",
              "FeedbackWidget.mountAll(document, {token, waitFor: 1500});")
    stack.stop_feedbackd()
    button(browser, "#a", "up").click()
    wait_state(browser, "#a", "error", timeout=60)
    assert widget(browser, "#a").get_attribute("data-outcome") == "busy"
    assert "busy right now" in status(browser, "#a").text
    assert pressed(browser, "#a") == 0


def test_without_a_token_it_asks_to_sign_in_and_sends_nothing(browser, stack, embed, embed_dir):
    host_page(browser, embed, embed_dir, stack, "no-token", """<div id="a" data-feedback-interaction-id="1"></div>""",
              "FeedbackWidget.mountAll(document, {getToken: () => null});")
    button(browser, "#a", "up").click()
    wait_state(browser, "#a", "error")
    assert widget(browser, "#a").get_attribute("data-outcome") == "no-token"
    assert status(browser, "#a").text == "Sign in to rate this answer."
    assert sent(browser) == []
    assert stack.rating(1) is None
