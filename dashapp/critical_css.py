"""Critical CSS: the part of the app's stylesheets that the HTML skeleton uses, to inline in the first response.

A linked stylesheet holds back the first paint until it is fetched and parsed; Flatly is 233 kB, and in headless
Chromium on a 2-vCPU machine it cost the skeleton about 55 ms of its ~190 ms to first paint even from the HTTP
cache. So the index page inlines only the rules whose selectors can match the skeleton's markup and loads the
full stylesheets without blocking (deferred_boot.js starts Dash once they are in, so the app itself never shows
unstyled). The subset is a copy of the full rules, so the page looks the same before and after they arrive.

A selector is kept when every class, id and element it names outside `:not(...)` occurs in the skeleton; that
over-keeps a little (`.a .b` is kept when both occur anywhere) and never drops a rule the skeleton needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

import tinycss2

_NOT = re.compile(r":not\([^()]*\)")
_CLASS = re.compile(r"\.(-?[_a-zA-Z][-_a-zA-Z0-9]*)")
_ID = re.compile(r"#(-?[_a-zA-Z][-_a-zA-Z0-9]*)")
# An element name at the start of a compound selector (after start, space or a combinator).
_ELEMENT = re.compile(r"(?:^|[\s>+~])([a-zA-Z][a-zA-Z0-9]*)")
_ALWAYS_ELEMENTS = frozenset({"html", "body"})
_ANIMATION = re.compile(r"animation(?:-name)?\s*:\s*([^;}]*)")


@dataclass(frozen=True)
class Markup:
    """The classes, ids and element names that occur in a piece of HTML."""

    classes: frozenset[str]
    ids: frozenset[str]
    elements: frozenset[str]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: set[str] = set()
        self.ids: set[str] = set()
        self.elements: set[str] = set(_ALWAYS_ELEMENTS)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.add(tag.lower())
        for name, value in attrs:
            if name == "class" and value:
                self.classes.update(value.split())
            elif name == "id" and value:
                self.ids.add(value)


def markup_of(html: str) -> Markup:
    """Collect what selectors could match in `html`."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return Markup(frozenset(collector.classes), frozenset(collector.ids), frozenset(collector.elements))


def _selector_applies(selector: str, markup: Markup) -> bool:
    bare = _NOT.sub("", selector)
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


def _subset(rules: Iterable, markup: Markup) -> list[str]:
    kept: list[str] = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = [s for s in _split_selectors(tinycss2.serialize(rule.prelude)) if _selector_applies(s, markup)]
            if selectors:
                kept.append(f"{','.join(selectors)}{{{tinycss2.serialize(rule.content).strip()}}}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in {"media", "supports", "layer", "container"}:
            if rule.content is None:
                continue
            inner = _subset(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True), markup)
            if inner:
                kept.append(f"@{rule.at_keyword} {tinycss2.serialize(rule.prelude).strip()}{{{''.join(inner)}}}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in {"keyframes", "font-face", "property"}:
            kept.append(tinycss2.serialize([rule]).strip())  # filtered below, once the used names are known
    return kept


@lru_cache(maxsize=16)
def _parsed_file(path: Path, mtime_ns: int) -> tuple:
    """A stylesheet file parsed once per process and version (tinycss2 takes ~0.2 s over Flatly)."""
    return tuple(tinycss2.parse_stylesheet(path.read_text(encoding="utf-8"), skip_comments=True,
                                           skip_whitespace=True))


def _parsed(stylesheet: str | Path) -> Iterable:
    if isinstance(stylesheet, Path):
        return _parsed_file(stylesheet, stylesheet.stat().st_mtime_ns)
    return tinycss2.parse_stylesheet(stylesheet, skip_comments=True, skip_whitespace=True)


def critical_css(stylesheets: Iterable[str | Path], html: str) -> str:
    """The rules of `stylesheets` (CSS text or files, in cascade order) that can apply to `html`, minified."""
    markup = markup_of(html)
    rules: list[str] = []
    for stylesheet in stylesheets:
        rules.extend(_subset(_parsed(stylesheet), markup))
    body = [rule for rule in rules if not rule.startswith("@keyframes")]
    used = {name for match in _ANIMATION.findall("".join(body)) for name in re.findall(r"[-_a-zA-Z0-9]+", match)}
    keyframes = [rule for rule in rules if rule.startswith("@keyframes") and rule.split()[1].split("{")[0] in used]
    return "".join(body + keyframes)
