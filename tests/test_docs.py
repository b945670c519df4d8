"""The README stays short, and every relative link of the documentation leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_LINES = 400
#: The pages a reader reaches from the README, and the records they link to.
PAGES = sorted([README, ROOT / "runs" / "README.md", *(ROOT / "docs").glob("*.md"),
                *(ROOT / "benchmarks").glob("RESULTS-*.md")])
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links and images of ``text`` outside code blocks that are
    not URLs (``http:``, ``mailto:`` ...)."""
    text = _FENCE.sub("", text)
    return [target for target in _LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown page (lower case, punctuation
    dropped, spaces to hyphens)."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*)$", _FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_readme_is_at_most_400_lines() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; move details to docs/ or benchmarks/RESULTS-*.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_existing_files(page: Path) -> None:
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in heading_anchors(
                dest.read_text(encoding="utf-8")):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_link_extraction_skips_code_urls_and_reads_anchors() -> None:
    text = ("See [a](docs/a.md#the-b-c) and ![p](x.png), [u](https://x.org).\n"
            "```\n[not](a/link.md)\n```\n## The `B`: c\n")
    assert relative_links(text) == ["docs/a.md#the-b-c", "x.png"]
    assert heading_anchors(text) == {"the-b-c"}
