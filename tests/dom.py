"""A small element tree of an HTML document (e.g. Chromium's --dump-dom), to query in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

# elements HTML serializes without an end tag
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
# elements a browser lays out apart from their neighbours: their text never runs into the
# text next to them (SVG <text> and <rect> are placed one by one, too)
SEPARATE = {"address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "div",
            "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
            "head", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "svg",
            "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul", "rect", "text"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def text(self, skip: frozenset[str] = frozenset()) -> str:
        """The text inside, whitespace collapsed as a browser shows it; elements named in
        `skip` (and what they hold) left out."""
        return " ".join(self._raw_text(skip).split())

    def _raw_text(self, skip: frozenset[str]) -> str:
        parts = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag not in skip:
                inner = child._raw_text(skip)
                parts.append(f" {inner} " if child.tag in SEPARATE else inner)
        return "".join(parts)

    def iter(self, tag: str) -> list[Element]:
        """Every element named `tag` below this one, in document order."""
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag:
                    found.append(child)
                found.extend(child.iter(tag))
        return found

    def descendants(self) -> list[Element]:
        """Every element below this one, in document order."""
        found = []
        for child in self.children:
            if isinstance(child, Element):
                found.append(child)
                found.extend(child.descendants())
        return found

    def after_heading(self, heading: str, tag: str) -> Element:
        """The first `tag` element after the <h2> or <h3> whose text is `heading`."""
        seen = False
        for element in self.descendants():
            if element.tag in ("h2", "h3") and element.text() == heading:
                seen = True
            elif seen and element.tag == tag:
                return element
        raise AssertionError(f"no <{tag}> after {heading!r}")

    def one(self, tag: str) -> Element:
        """The only element named `tag` below this one."""
        found = self.iter(tag)
        assert len(found) == 1, f"{len(found)} <{tag}> elements, expected one"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self._open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self._open[-1].children.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        # close up to the matching element; an unmatched end tag is ignored
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)


def parse(document: str) -> Element:
    builder = _Builder()
    builder.feed(document)
    builder.close()
    return builder.root
