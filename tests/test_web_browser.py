"""The web page in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver (scripts/test.sh installs both). A person picks a nickname, talks with
someone on IRC over TCP both ways, switches rooms and opens a private conversation; on a
phone, the input and the room list are on screen when wanted, also with the keyboard open. A
screenshot of the end is saved in the test's temporary directory. A server restarted (SIGTERM,
then a new process on the same ports) finds the page back in its rooms; a server shut down at
its console tells the page the chat is over, and the page stays away."""

from __future__ import annotations

import shutil
import signal

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from net_harness import (
    TIMEOUT,
    LineClient,
    running_server,
    sees_in,
    server_process,
    web_port_printed,
)
from terminal_harness import server_with_console

DRIVER = shutil.which("chromedriver")


# A phone in Chrome's device emulation: its size in CSS pixels, touch, and a mobile viewport.
PHONE = {"width": 390, "height": 844, "pixelRatio": 3, "touch": True, "mobile": True}


def chromium(size: str, phone: bool = False):
    assert DRIVER is not None, "chromedriver is missing: scripts/test.sh installs it"
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={size}"):
        options.add_argument(argument)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture
def browser():
    driver = chromium("1100,700")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def phone():
    driver = chromium("390,844", phone=True)
    try:
        yield driver
    finally:
        driver.quit()


def shown(driver, text: str) -> bool:
    return WebDriverWait(driver, 10).until(
        lambda d: text in d.find_element(By.TAG_NAME, "body").text
    )


def on_screen(driver, element) -> bool:
    """Wholly inside the window, and not covered: what is at its middle is the element."""
    return driver.execute_script(
        """const e = arguments[0], r = e.getBoundingClientRect();
        if (!r.width || !r.height || r.top < 0 || r.left < 0) return false;
        if (r.bottom > innerHeight || r.right > innerWidth) return false;
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return hit !== null && e.contains(hit);""",
        element,
    )


def typed(driver, line: str) -> None:
    boxes = [
        e for e in driver.find_elements(By.CSS_SELECTOR, "textarea, input") if e.is_displayed()
    ]
    boxes[-1].send_keys(line + Keys.ENTER)


def webalice_meets_tcpbob(driver, server) -> LineClient:
    """tcpbob in #lobby over TCP; the page opened in `driver`, logged in as webalice, who
    joins #lobby by default: bob, once he has seen her come."""
    port = server.call(lambda: server.server.web_addresses[0][1])
    bob = LineClient(server.port).register("tcpbob").join("#lobby")
    driver.get(f"http://127.0.0.1:{port}/")
    driver.find_element(By.ID, "login-nick").send_keys("webalice" + Keys.ENTER)
    bob.expect("webalice!")
    return bob


def test_a_person_in_the_browser_chats_with_irc(browser, tmp_path) -> None:
    with running_server(web_port=-1) as server:
        bob = webalice_meets_tcpbob(browser, server)
        WebDriverWait(browser, 10).until(
            lambda d: (
                any(e.is_displayed() for e in d.find_elements(By.CSS_SELECTOR, "textarea"))
                or d.find_element(By.ID, "login-nick").is_displayed() is False
            )
        )
        typed(browser, "hello from the browser")
        bob.expect("PRIVMSG #lobby :hello from the browser")
        bob.send("PRIVMSG #lobby :hi webalice, from irc")
        assert shown(browser, "hi webalice, from irc")
        typed(browser, "/join #other")
        bob.send("JOIN #other")
        bob.expect(" 366 ")
        bob.send("PRIVMSG #other :in the other room")
        assert shown(browser, "in the other room")
        bob.send("PRIVMSG webalice :just between us")
        typed(browser, "/msg tcpbob and a private answer")
        bob.expect("PRIVMSG tcpbob :and a private answer")
        assert shown(browser, "and a private answer")
        assert shown(browser, "just between us")  # the conversation's own tab, both ways
        assert "in the other room" not in browser.find_element(By.TAG_NAME, "main").text
        browser.save_screenshot(str(tmp_path / "web.png"))
        assert (tmp_path / "web.png").stat().st_size > 10_000


def test_on_a_phone_the_input_and_the_room_list_are_on_screen(phone, tmp_path) -> None:
    with running_server(web_port=-1) as server:
        bob = webalice_meets_tcpbob(phone, server)
        wait = WebDriverWait(phone, 10)
        message = phone.find_element(By.ID, "input")
        room_name = phone.find_element(By.ID, "room-name")
        rooms = phone.find_element(By.ID, "rooms")
        members = phone.find_element(By.ID, "members")
        wait.until(lambda d: room_name.text == "#lobby" and on_screen(d, message))
        for number in range(8):  # more than half a phone's screen
            bob.send(f"PRIVMSG #lobby :line {number} of a story told at length, " + "words " * 12)
        assert shown(phone, "line 7 of a story")
        # The lists leave the screen to the messages until asked for.
        assert not rooms.is_displayed() and not members.is_displayed()
        message.send_keys("/join #other" + Keys.ENTER)
        wait.until(lambda d: room_name.text == "#other")
        bob.send("PRIVMSG #lobby :news in the lobby")
        toggle = phone.find_element(By.ID, "toggle-rooms")
        unread = phone.find_element(By.ID, "unread-total")
        wait.until(lambda d: unread.text == "1")  # one unread line, in another room
        assert on_screen(phone, toggle)
        toggle.click()
        wait.until(lambda d: rooms.is_displayed())
        assert toggle.get_attribute("aria-expanded") == "true"
        lobby = next(
            room
            for room in phone.find_elements(By.CSS_SELECTOR, "#room-list .room")
            if room.text.startswith("#lobby")
        )
        assert on_screen(phone, lobby)
        lobby.click()
        wait.until(lambda d: room_name.text == "#lobby" and not rooms.is_displayed())
        assert toggle.get_attribute("aria-expanded") == "false"
        assert shown(phone, "news in the lobby")
        phone.find_element(By.ID, "toggle-members").click()
        wait.until(lambda d: members.is_displayed() and "tcpbob" in members.text)
        phone.find_element(By.ID, "toggle-members").click()
        wait.until(lambda d: not members.is_displayed() and on_screen(d, message))
        # The on-screen keyboard takes half the screen: the input and the newest line stay.
        phone.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 390, "height": 420, "deviceScaleFactor": 3, "mobile": True},
        )
        message.click()
        newest = phone.find_elements(By.CSS_SELECTOR, "#messages .line")[-1]
        wait.until(lambda d: on_screen(d, message) and on_screen(d, newest))
        message.send_keys("typed on a phone" + Keys.ENTER)
        bob.expect("PRIVMSG #lobby :typed on a phone")
        assert shown(phone, "typed on a phone")
        phone.save_screenshot(str(tmp_path / "phone.png"))


def logged_in(driver, web_port: int, nick: str) -> None:
    """The page opened and `nick` chatting, with the status line's every text recorded."""
    driver.get(f"http://127.0.0.1:{web_port}/")
    driver.find_element(By.ID, "login-nick").send_keys(nick + Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "room-name").text == "#lobby")
    driver.execute_script(
        """window.statuses = [];
        const status = document.getElementById("status");
        new MutationObserver(() => statuses.push(status.textContent))
            .observe(status, {childList: true, subtree: true, characterData: true});"""
    )


def status_was(driver, start: str) -> bool:
    return WebDriverWait(driver, 10).until(
        lambda d: any(text.startswith(start) for text in d.execute_script("return statuses"))
    )


def test_the_page_comes_back_in_its_rooms_after_a_restart(browser, tmp_path) -> None:
    data = ("--data-dir", str(tmp_path))
    with server_process("--web-port", "-1", *data) as (first, port, printed):
        web = web_port_printed(printed)
        logged_in(browser, web, "webalice")
        typed(browser, "/join #other")
        room_name = browser.find_element(By.ID, "room-name")
        WebDriverWait(browser, 10).until(lambda d: room_name.text == "#other")
        first.send_signal(signal.SIGTERM)
        assert first.wait(TIMEOUT) == 0
        assert shown(browser, "The server is restarting; this page reconnects")
        assert status_was(browser, "Server restarting; reconnecting in ")
        again = ("--port", str(port), "--web-port", str(web), *data)
        with server_process(*again) as (second, _, _):
            bob = LineClient(port).register("tcpbob")
            sees_in(bob, "webalice", "#lobby")
            sees_in(bob, "webalice", "#other")
            assert shown(browser, "Reconnected as webalice; rejoining #lobby, #other.")
            typed(browser, "back after the restart")
            bob.expect(r"^:webalice!\S+ PRIVMSG #other :back after the restart$")
            bob.send("PRIVMSG #other :welcome back, webalice")
            assert shown(browser, "welcome back, webalice")
            assert "ended the chat" not in browser.find_element(By.TAG_NAME, "body").text
            second.send_signal(signal.SIGTERM)
            assert second.wait(TIMEOUT) == 0


def test_the_page_stays_away_when_the_console_ends_the_chat(browser, tmp_path) -> None:
    server = server_with_console("--web-port", "-1", "--data-dir", str(tmp_path))
    try:
        web = int(server.wait_for(r"Listening \(web: http\) on 127\.0\.0\.1:(\d+)").group(1))
        server.wait_for(r"You \(Server\):")
        logged_in(browser, web, "webalice")
        server.type("over")
        assert server.wait_exit() == 0
        ended = "The server ended the chat: Closing Link: 127.0.0.1 (Server shutting down)"
        assert shown(browser, ended)
        assert status_was(browser, "The server ended the chat.")
        statuses = browser.execute_script("return statuses")
        assert not any("econnecting" in text for text in statuses), statuses
        assert browser.find_element(By.CSS_SELECTOR, "#status button").text == "Reconnect"
    finally:
        server.close()
