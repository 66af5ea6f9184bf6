"""The README and the manual in docs/: every relative link and anchor resolves, and CI runs the
README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from climate_assets.settings import PROJECT_ROOT

CODE_BLOCK = re.compile(r"```.*?```", re.S)


def _pages() -> list[Path]:
    return [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").rglob("*.md"))]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    prose = CODE_BLOCK.sub("", page.read_text())
    return {_anchor(h) for h in re.findall(r"^#+\s+(.*)$", prose, flags=re.M)}


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for page in _pages():
        for target in re.findall(r"\]\(([^)\s]+)\)", CODE_BLOCK.sub("", page.read_text())):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists() or (
                anchor and dest.suffix == ".md" and anchor not in _anchors(dest)
            ):
                broken.append(f"{page.relative_to(PROJECT_ROOT)}: {target}")
    assert not broken


def test_ci_runs_the_readmes_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    setup = readme[readme.index("## Set up") :]
    block = setup[setup.index("```bash") : setup.index("```", setup.index("```bash") + 3)]
    assert re.search(r"^uv run pytest\b", block, flags=re.M)
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^uv run pytest$", ci, flags=re.M)
