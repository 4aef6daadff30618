"""Critical CSS: the part of the app's stylesheets that the HTML skeleton uses, to inline in the first response.

A linked stylesheet holds back the first paint until it is fetched and parsed; Flatly is 233 kB, and in headless
Chromium on a 2-vCPU machine it cost the skeleton about 55 ms of its ~190 ms to first paint even from the HTTP
cache. So the index page inlines only the rules whose selectors can match the skeleton's markup and loads the
full stylesheets without blocking (deferred_boot.js starts Dash once they are in, so the app itself never shows
unstyled). The subset is a copy of the full rules, so the page looks the same before and after they arrive.

A selector is kept when every class, id, element and attribute it names outside `:not()`, `:is()`, `:where()` and
`:has()` occurs in the skeleton; that over-keeps a little (`.a .b` is kept when both occur anywhere) and never
drops a rule the skeleton needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TypeVar

import tinycss2

# Pseudo-classes taking a selector list: one alternative may match, so the names inside them are not required.
_SELECTOR_LIST = re.compile(r":(?:not|is|where|has|matches|-webkit-any)\([^()]*\)")
_CLASS = re.compile(r"\.(-?[_a-zA-Z][-_a-zA-Z0-9]*)")
_ID = re.compile(r"#(-?[_a-zA-Z][-_a-zA-Z0-9]*)")
# An element name at the start of a compound selector (after start, space or a combinator).
_ELEMENT = re.compile(r"(?:^|[\s>+~])([a-zA-Z][-a-zA-Z0-9]*)")  # custom elements have a hyphen
_ALWAYS_ELEMENTS = frozenset({"html", "body"})
_ANIMATION = re.compile(r"animation(?:-name)?\s*:\s*([^;}]*)")
K = TypeVar("K")

_ATTRIBUTE = re.compile(r"\[\s*([-_a-zA-Z0-9]+)")
_VAR = re.compile(r"var\(\s*(--[-_a-zA-Z0-9]+)")
_IDENT = re.compile(r"-?[_a-zA-Z][-_a-zA-Z0-9]*")


@dataclass(frozen=True)
class Markup:
    """The classes, ids and element names that occur in a piece of HTML."""

    classes: frozenset[str]
    ids: frozenset[str]
    elements: frozenset[str]
    attributes: frozenset[str] = frozenset()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: set[str] = set()
        self.ids: set[str] = set()
        self.elements: set[str] = set(_ALWAYS_ELEMENTS)
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.add(tag.lower())
        for name, value in attrs:
            self.attributes.add(name.lower())
            if name == "class" and value:
                self.classes.update(value.split())
            elif name == "id" and value:
                self.ids.add(value)


def markup_of(html: str) -> Markup:
    """Collect what selectors could match in `html`."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return Markup(frozenset(collector.classes), frozenset(collector.ids), frozenset(collector.elements),
                  frozenset(collector.attributes))


def _selector_applies(selector: str, markup: Markup) -> bool:
    bare = _SELECTOR_LIST.sub("", selector)
    if any(name.lower() not in markup.attributes for name in _ATTRIBUTE.findall(bare)):
        return False
    # Attribute values and pseudo-element names are not classes; drop [..] before looking for `.x` and `#x`.
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    if any(name not in markup.classes for name in _CLASS.findall(bare)):
        return False
    if any(name not in markup.ids for name in _ID.findall(bare)):
        return False
    elements = _ELEMENT.findall(re.sub(r"::?[-a-zA-Z]+(\([^)]*\))?", "", bare))
    return all(name.lower() in markup.elements for name in elements)


def _split_selectors(prelude: str) -> list[str]:
    """Split a selector list on its top-level commas (a comma inside `:is(a, b)` stays)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(prelude):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(prelude[start:index])
            start = index + 1
    parts.append(prelude[start:])
    return [part.strip() for part in parts if part.strip()]


@dataclass
class _Rule:
    """A kept style rule: its matching selectors and its declarations as (name, value, important)."""

    selectors: str
    declarations: list[tuple[str, str, bool]]

    def css(self, custom: set[str]) -> str:
        kept = [f"{name}:{value}{'!important' if important else ''}" for name, value, important in self.declarations
                if not name.startswith("--") or name in custom]
        return f"{self.selectors}{{{';'.join(kept)}}}" if kept else ""


@dataclass
class _Group:
    """A kept conditional group (`@media`, `@supports`, ...) around kept rules."""

    head: str
    children: list

    def css(self, custom: set[str]) -> str:
        inner = "".join(child.css(custom) for child in self.children)
        return f"{self.head}{{{inner}}}" if inner else ""


@dataclass
class _Raw:
    """An at-rule kept whole (`@keyframes`, `@font-face`, `@property`, a `@layer a, b;` statement)."""

    keyword: str
    text: str
    name: str = ""  # of a @keyframes

    def css(self, custom: set[str]) -> str:
        return self.text


def _declarations(content: list) -> list[tuple[str, str, bool]]:
    out = []
    for item in tinycss2.parse_blocks_contents(content, skip_comments=True, skip_whitespace=True):
        if item.type == "declaration":
            name = item.name if item.name.startswith("--") else item.lower_name
            out.append((name, tinycss2.serialize(item.value).strip(), item.important))
    return out


def _subset(rules: Iterable, markup: Markup) -> list:
    kept: list = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = [s for s in _split_selectors(tinycss2.serialize(rule.prelude)) if _selector_applies(s, markup)]
            if selectors:
                kept.append(_Rule(",".join(selectors), _declarations(rule.content)))
        elif rule.type == "at-rule" and rule.lower_at_keyword in {"media", "supports", "layer", "container"}:
            if rule.content is None:  # `@layer a, b;` fixes the layers' order: keep it
                if rule.lower_at_keyword == "layer":
                    kept.append(_Raw("layer", tinycss2.serialize([rule]).strip()))
                continue
            inner = _subset(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True), markup)
            if inner:
                kept.append(_Group(f"@{rule.at_keyword} {tinycss2.serialize(rule.prelude).strip()}", inner))
        elif rule.type == "at-rule" and rule.lower_at_keyword in {"keyframes", "font-face", "property"}:
            names = [token.value for token in rule.prelude if token.type in ("ident", "string")]
            kept.append(_Raw(rule.lower_at_keyword, tinycss2.serialize([rule]).strip(), names[0] if names else ""))
    return kept


def _walk(nodes: list) -> Iterable:
    for node in nodes:
        if isinstance(node, _Group):
            yield from _walk(node.children)
        else:
            yield node


def _used_custom_properties(nodes: list, html: str) -> set[str]:
    """Custom properties read by a kept declaration, the markup, or (transitively) another used property.

    Flatly declares 315 on the rules the skeleton keeps and ~100 are read: the rest were half the inlined bytes.
    """
    values: dict[str, list[str]] = {}
    reads = set(_VAR.findall(html))
    for node in _walk(nodes):
        if isinstance(node, _Rule):
            for name, value, _ in node.declarations:
                if name.startswith("--"):
                    values.setdefault(name, []).append(value)
                else:
                    reads.update(_VAR.findall(value))
        else:
            reads.update(_VAR.findall(node.text))
    used: set[str] = set()
    while reads - used:
        name = (reads - used).pop()
        used.add(name)
        for value in values.get(name, ()):
            reads.update(_VAR.findall(value))
    return used


def _parsed(stylesheet: str | Path) -> list:
    text = stylesheet.read_text(encoding="utf-8") if isinstance(stylesheet, Path) else stylesheet
    return tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)


def critical_css_each(stylesheets: Iterable[str | Path], pages: Mapping[K, str]) -> dict[K, str]:
    """`critical_css` for several pieces of HTML at once, parsing the stylesheets once (~0.2 s for Flatly).

    The parsed tokens are not kept: for Flatly they hold ~8 MB, for strings of ~20 kB each.
    """
    parsed = [_parsed(stylesheet) for stylesheet in stylesheets]
    return {key: _critical(parsed, html) for key, html in pages.items()}


def critical_css(stylesheets: Iterable[str | Path], html: str) -> str:
    """The rules of `stylesheets` (CSS text or files, in cascade order) that can apply to `html`, minified.

    Custom properties nobody reads are dropped, and so are keyframes no kept rule animates with.
    """
    return critical_css_each(stylesheets, {"": html})[""]


def _critical(parsed: list[list], html: str) -> str:
    markup = markup_of(html)
    nodes: list = []
    for rules in parsed:
        nodes.extend(_subset(rules, markup))
    custom = _used_custom_properties(nodes, html)
    body = "".join(node.css(custom) for node in nodes if not (isinstance(node, _Raw) and node.keyword == "keyframes"))
    animated = {name for match in _ANIMATION.findall(body) for name in _IDENT.findall(match)}
    # A keyframes name can also come through a custom property (`animation: var(--name)`): count the idents of
    # every used custom property's value as possible names (over-keeps a little, never drops one in use).
    for node in _walk(nodes):
        if isinstance(node, _Rule):
            animated.update(word for name, value, _ in node.declarations if name in custom
                            for word in _IDENT.findall(value))
    keyframes = [node.text for node in nodes
                 if isinstance(node, _Raw) and node.keyword == "keyframes" and node.name in animated]
    return body + "".join(keyframes)
