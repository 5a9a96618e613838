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
# The script is ES modules: app.js wires the others, imported by flat names ("./irc.js").
MODULES = (
    "app.js",
    "irc.js",
    "state.js",
    "rooms.js",
    "format.js",
    "view.js",
    "connection.js",
    "history.js",
    "tabs.js",
    "members.js",
    "incoming.js",
    "commands.js",
)
FILES = ("index.html", "style.css", "icon.svg", *MODULES)
IMPORT = re.compile(r"""^import\s*\{([^}]*)\}\s*from\s*"([^"]*)";""", re.MULTILINE)
EXPORT = re.compile(r"^export (?:function|const|let) ([\w$]+)", re.MULTILINE)


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


def script() -> str:
    """All the modules, as one text: what the page runs."""
    return "\n".join(read(name) for name in MODULES)


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
    assert '<script type="module" src="app.js"></script>' in read("index.html")
    assert "style.css" in references
    assert "icon.svg" in references  # else browsers ask for /favicon.ico, a 404
    for reference in references:
        assert "//" not in reference and not reference.startswith("/"), reference
        assert (STATIC / reference).is_file(), reference


def test_every_module_is_imported_by_a_flat_name_and_has_what_is_imported_from_it() -> None:
    """The server serves flat names from static/ only; a name imported from a module that
    does not export it stops the whole page."""
    reached, waiting = set(), ["app.js"]
    while waiting:
        name = waiting.pop()
        reached.add(name)
        for names, source in IMPORT.findall(read(name)):
            assert re.fullmatch(r"\./[\w-]+\.js", source), f"{name}: {source}"
            target = source[2:]
            assert target in MODULES, f"{name} imports {target}, which is not in MODULES"
            exported = set(EXPORT.findall(read(target)))
            for imported in (part.strip() for part in names.split(",") if part.strip()):
                assert imported in exported, f"{name} imports {imported} from {target}"
            if target not in reached:
                waiting.append(target)
    assert reached == set(MODULES), sorted(set(MODULES) - reached)
    assert {path.name for path in STATIC.glob("*.js")} == set(MODULES)


def test_the_page_asks_for_every_module_at_once() -> None:
    """Imports found one level at a time cost a round trip each (and the web port closes
    each connection): index.html preloads every module app.js reaches."""
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', read("index.html")))
    assert preloaded == set(MODULES) - {"app.js"}


def test_every_id_the_script_looks_up_is_in_the_page() -> None:
    ids = parsed_index().ids
    wanted = set(re.findall(r"""\$\("([\w-]+)"\)""", script()))
    assert wanted, "the modules look up elements with $(id)"
    assert wanted <= ids, sorted(wanted - ids)


@pytest.mark.parametrize("name", FILES)
def test_no_outside_requests(name: str) -> None:
    text = read(name).replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not fetched
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
    text = script()
    for match in re.finditer(r"\.(?:inner|outer)HTML\s*([+]?=)\s*([^;\n]*)", text):
        assert match.group(1) == "=" and match.group(2).strip() in ('""', "''"), match.group(0)
    for forbidden in ("insertAdjacentHTML", "document.write", "eval(", "new Function", "DOMParser"):
        assert forbidden not in text, forbidden
    assert "outerHTML" not in text


def test_links_open_safely() -> None:
    text = script()
    assert 'rel = "noopener noreferrer"' in text
    assert 'target = "_blank"' in text


def test_the_socket_speaks_the_ircv3_text_subprotocol_to_the_page_s_own_host() -> None:
    text = script()
    assert '"text.ircv3.net"' in text
    assert "location.host" in text
    assert '"wss:"' in text and '"ws:"' in text


def test_the_page_has_a_viewport_and_both_colour_schemes() -> None:
    page = read("index.html")
    assert 'name="viewport"' in page
    css = read("style.css")
    assert "prefers-color-scheme: dark" in css
    assert re.search(r"@media \(max-width: 700px\)", css)


def test_the_package_says_what_it_holds() -> None:
    assert tcpchat.web.__doc__ and "static" in tcpchat.web.__doc__
