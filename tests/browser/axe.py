"""axe-core in a Playwright page: inject node_modules/axe-core/axe.min.js, run the WCAG 2.0/2.1 A and AA rules.

axe-core is an npm package pinned in package.json (`npm ci` installs it; .ci/run does). Without it the
accessibility tests skip with the reason, as the browser tests do without Chromium.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.support import ROOT

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21aa")
FAILING_IMPACTS = ("serious", "critical")
NODES_SHOWN = 5

_RUN_JS = """async ([context, options]) => {
    const results = await axe.run(context || document, options);
    return results.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, tags: v.tags,
        nodes: v.nodes.map(n => ({target: n.target, impact: n.impact, html: n.html.slice(0, 300),
                                  failureSummary: n.failureSummary})),
    }));
}"""


def axe_missing(path: Path = AXE_JS) -> str | None:
    """Why axe-core cannot be injected here (None when it can)."""
    if not path.is_file():
        return f"axe-core is not installed: no {path.relative_to(ROOT)} (run `npm ci` at the repository root)"
    return None


def run_axe(page, context: str | dict | None = None, tags: tuple[str, ...] = WCAG_TAGS) -> list[dict]:
    """The violations axe-core finds in the page as it is now (each: id, impact, help, helpUrl, tags, nodes).

    `context` narrows the check (a CSS selector or axe's {include, exclude}); the rules are those tagged `tags`,
    color-contrast among them.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, not added as a <script>: the app's Content-Security-Policy
        # (rightly) refuses inline scripts it has no hash for, and the page is checked under its real policy.
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    options = {"runOnly": {"type": "tag", "values": list(tags)}, "resultTypes": ["violations"]}
    return page.evaluate(_RUN_JS, [context, options])


def describe(violations: list[dict], nodes_shown: int = NODES_SHOWN) -> str:
    """Each violation's id, impact and help, then its first nodes' targets and failure summaries."""
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']} "
                     f"({len(violation['nodes'])} node(s)) {violation['helpUrl']}")
        for node in violation["nodes"][:nodes_shown]:
            lines.append(f"    target: {' '.join(map(str, node['target']))}")
            summary = (node.get("failureSummary") or "").strip().replace("\n", "\n        ")
            if summary:
                lines.append(f"        {summary}")
        if len(violation["nodes"]) > nodes_shown:
            lines.append(f"    ... and {len(violation['nodes']) - nodes_shown} more node(s)")
    return "\n".join(lines)


def assert_no_serious_violations(page, where: str = "", context: str | dict | None = None) -> list[dict]:
    """Run axe and fail on any violation of impact serious or critical, describing each (its output is printed
    too, so it shows in pytest's captured stdout). Returns every violation, the minor and moderate ones included."""
    violations = run_axe(page, context)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    if failing:
        report = describe(failing)
        print(f"axe violations on {where or page.url}:\n{report}")
        raise AssertionError(f"{len(failing)} serious/critical axe violation(s) on {where or page.url}:\n{report}")
    return violations
