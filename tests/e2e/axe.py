"""Run axe-core (from the npm registry, ``tests/e2e/node_modules``) in a Playwright page."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"

#: WCAG 2.0, 2.1 and 2.2, levels A and AA: the rule set the inbox must pass.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@cache
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make test-e2e` (it runs npm install).", pytrace=False)
    return AXE.read_text(encoding="utf-8")


def run_axe(page, *, include: str | None = None) -> list[dict]:
    """Return axe's violations on ``page`` (WCAG 2.2 AA) as plain dicts."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # evaluate(), not a <script> tag: pages under a strict CSP would refuse the tag.
        page.evaluate(axe_source() + "\n;undefined")
    return page.evaluate(
        """async ([include, tags]) => {
          const context = include ? { include: [include] } : document;
          const result = await axe.run(context, {
            runOnly: { type: "tag", values: tags },
            resultTypes: ["violations"],
          });
          return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
          }));
        }""",
        [include, WCAG_22_AA],
    )


def describe(violations: list[dict]) -> str:
    """One line per failing element: rule, impact, selector, why."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            summary = " ".join((node["summary"] or "").split())[:300]
            lines.append(f"{v['id']} ({v['impact']}): {node['target']}: {summary}")
    rules = sorted({v["id"] for v in violations})
    return f"{len(lines)} violation(s) of {', '.join(rules)}\n" + "\n".join(lines)
