"""Parse a report page with html.parser: elements, attributes, script bodies, cell text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: list[Element] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag == "script":
            self._script = element.attrs
            self.scripts.append((element.attrs, ""))
        elif tag not in {"meta", "input", "br", "img", "link"}:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None
            return
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data):
        if self._script is not None:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)
            return
        for element in self._open:
            element.text += data

    def find(self, tag=None, **attrs):
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag)
            and all(
                (k.replace("_", "-") in e.attrs)
                if v is True
                else e.attrs.get(k.replace("_", "-")) == v
                for k, v in attrs.items()
            )
        ]

    def data(self):
        (body,) = [b for a, b in self.scripts if a.get("type") == "application/json"]
        return json.loads(body)


def parse_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_bytes().decode("utf-8"))
    page.close()
    return page
