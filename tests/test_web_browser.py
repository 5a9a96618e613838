"""The web page in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver (scripts/test.sh installs both). A person picks a nickname, talks with
someone on IRC over TCP both ways, switches rooms and opens a private conversation; a
screenshot of the end is saved in the test's temporary directory."""

from __future__ import annotations

import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from net_harness import LineClient, running_server

DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser():
    assert DRIVER is not None, "chromedriver is missing: scripts/test.sh installs it"
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,700"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def shown(driver, text: str) -> bool:
    return WebDriverWait(driver, 10).until(
        lambda d: text in d.find_element(By.TAG_NAME, "body").text
    )


def typed(driver, line: str) -> None:
    boxes = [
        e for e in driver.find_elements(By.CSS_SELECTOR, "textarea, input") if e.is_displayed()
    ]
    boxes[-1].send_keys(line + Keys.ENTER)


def test_a_person_in_the_browser_chats_with_irc(browser, tmp_path) -> None:
    with running_server(web_port=-1) as server:
        port = server.call(lambda: server.server.web_addresses[0][1])
        bob = LineClient(server.port)
        bob.register("tcpbob")
        bob.send("JOIN #lobby")
        bob.expect(" 366 ")
        browser.get(f"http://127.0.0.1:{port}/")
        nick = browser.find_element(By.ID, "login-nick")
        nick.send_keys("webalice" + Keys.ENTER)
        bob.expect("webalice!")
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
