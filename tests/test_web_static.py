"""The web client's static files: present, packaged, self-contained, and never writing HTML.

Nothing beyond Python is needed: the checks read the files as text. (The page in a real
browser is tested with the web listener.)
"""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

import tcpchat.web

ROOT = Path(__file__).resolve().parents[1]
STATIC = Path(tcpchat.web.__file__).parent / "static"
FILES = ("index.html", "app.js", "style.css")


def read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


class _References(HTMLParser):
    """The src and href of every element, and the ids."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.references.append(value)
            if name == "id" and value:
                self.ids.add(value)


def parsed_index() -> _References:
    parser = _References()
    parser.feed(read("index.html"))
    return parser


@pytest.mark.parametrize("name", FILES)
def test_each_file_is_there_and_not_empty(name: str) -> None:
    assert (STATIC / name).is_file()
    assert read(name).strip()


def test_the_files_are_readable_as_package_resources() -> None:
    static = resources.files("tcpchat.web").joinpath("static")
    for name in FILES:
        assert static.joinpath(name).read_text(encoding="utf-8") == read(name)


def test_pyproject_ships_the_files_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["tcpchat.web"]
    for name in FILES:
        assert any(fnmatch(f"static/{name}", pattern) for pattern in patterns), name


def test_index_references_the_script_and_the_style_sheet_and_nothing_missing() -> None:
    references = parsed_index().references
    assert "app.js" in references
    assert "style.css" in references
    for reference in references:
        assert "//" not in reference and not reference.startswith("/"), reference
        assert (STATIC / reference).is_file(), reference


def test_every_id_the_script_looks_up_is_in_the_page() -> None:
    ids = parsed_index().ids
    wanted = set(re.findall(r"""\$\("([\w-]+)"\)""", read("app.js")))
    assert wanted, "app.js looks up elements with $(id)"
    assert wanted <= ids, sorted(wanted - ids)


@pytest.mark.parametrize("name", FILES)
def test_no_outside_requests(name: str) -> None:
    text = read(name)
    assert not re.search(r"(?i)\b(?:https?|wss?|ftp):/?/", text), "a URL to another host"
    assert not re.search(r"""(?i)(?:src|href|action)\s*=\s*["']?//""", text)
    assert "@import" not in text
    if name.endswith(".css"):
        assert not re.search(r"\burl\(", text), "CSS fetching something (fonts, images)"
    if name.endswith(".js"):
        fetchers = ("fetch(", "XMLHttpRequest", "sendBeacon", "import(", "new Image", "EventSource")
        for fetching in fetchers:
            assert fetching not in text, fetching


def test_no_html_is_ever_written_from_data() -> None:
    script = read("app.js")
    for match in re.finditer(r"\.(?:inner|outer)HTML\s*([+]?=)\s*([^;\n]*)", script):
        assert match.group(1) == "=" and match.group(2).strip() in ('""', "''"), match.group(0)
    for forbidden in ("insertAdjacentHTML", "document.write", "eval(", "new Function", "DOMParser"):
        assert forbidden not in script, forbidden
    assert "outerHTML" not in script


def test_links_open_safely() -> None:
    script = read("app.js")
    assert 'rel = "noopener noreferrer"' in script
    assert 'target = "_blank"' in script


def test_the_socket_speaks_the_ircv3_text_subprotocol_to_the_page_s_own_host() -> None:
    script = read("app.js")
    assert '"text.ircv3.net"' in script
    assert "location.host" in script
    assert '"wss:"' in script and '"ws:"' in script


def test_the_page_has_a_viewport_and_both_colour_schemes() -> None:
    page = read("index.html")
    assert 'name="viewport"' in page
    css = read("style.css")
    assert "prefers-color-scheme: dark" in css
    assert re.search(r"@media \(max-width: 700px\)", css)


def test_the_package_says_what_it_holds() -> None:
    assert tcpchat.web.__doc__ and "static" in tcpchat.web.__doc__
