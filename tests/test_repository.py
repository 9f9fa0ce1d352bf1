"""The repository is self-contained: it cites its own docs/method.md, never a file outside the clone.

Code, tests, notebooks and documents cite the method as ``docs/method.md §n.m`` and the paper as
"paper §3.2". Every cited section of docs/method.md, and every ``decisions.md#anchor`` link, must
exist.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHOD = ROOT / "docs" / "method.md"
DECISIONS = ROOT / "docs" / "decisions.md"
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()

# Item tags of the external specification the method was once written in (its name, a space, a
# letter A-H and an optional number), its file, and the read-only folder beside the clone. The
# words are assembled so that this file does not match itself.
_SPEC, _SHARED = "SP" + "EC", "sha" + "red"
EXTERNAL_REFERENCE = re.compile(rf"\b{_SPEC} [A-H]\d*|\.\./{_SHARED}|\b{_SPEC}\.md")
SECTION_NUMBER = r"\d+(?:\.\d+)?"
# "docs/method.md §1.5", "docs/method.md §3.1–3.3", "docs/method.md §2.1, §2.2 and §2.4".
METHOD_CITATION = re.compile(
    rf"docs/method\.md\s+(§{SECTION_NUMBER}(?:(?:–|, §| and §){SECTION_NUMBER})*)"
)
# Inside docs/method.md a bare § is one of its own sections; the paper's are written "paper §3.2".
INTERNAL_REFERENCE = re.compile(rf"(?<![Pp]aper )§({SECTION_NUMBER})(?:–({SECTION_NUMBER}))?")
SECTION_HEADING = re.compile(rf"^#{{2,3}} §({SECTION_NUMBER}) ", re.MULTILINE)
DECISIONS_LINK = re.compile(r"decisions\.md#([\w-]+)")


def _tracked_text_files() -> Iterator[tuple[str, str]]:
    """(path relative to the root, text) of every tracked text file present in the checkout."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout
    for name in listing.split("\0"):
        path = ROOT / name
        if not name or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:  # binary: figures, checkpoints
            continue
        yield name, data.decode("utf-8", errors="replace")


def _lines_matching(pattern: re.Pattern[str]) -> Iterator[tuple[str, int, re.Match[str]]]:
    for name, text in _tracked_text_files():
        if name == THIS_FILE:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for match in pattern.finditer(line):
                yield name, number, match


def _method_sections() -> set[str]:
    return set(SECTION_HEADING.findall(METHOD.read_text()))


def _github_slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_no_file_cites_the_external_specification() -> None:
    offenders = [
        f"{name}:{number}: {match.group(0)}" for name, number, match in _lines_matching(EXTERNAL_REFERENCE)
    ]
    assert not offenders, (
        "cite docs/method.md §n.m (or the paper's section) instead of the external specification:\n"
        + "\n".join(offenders)
    )


def test_method_has_every_chapter_with_consecutive_sections() -> None:
    sections = _method_sections()
    chapters = sorted(int(section) for section in sections if "." not in section)
    assert chapters == list(range(1, 9)), f"docs/method.md chapters §1..§8 expected, found {chapters}"
    for chapter in chapters:
        numbers = sorted(int(s.split(".")[1]) for s in sections if s.startswith(f"{chapter}."))
        assert numbers and numbers == list(range(1, len(numbers) + 1)), (
            f"§{chapter} sections are not §{chapter}.1, §{chapter}.2, …: {numbers}"
        )


def test_every_method_citation_names_an_existing_section() -> None:
    sections = _method_sections()
    missing = []
    for name, number, match in _lines_matching(METHOD_CITATION):
        for cited in re.findall(SECTION_NUMBER, match.group(1)):
            if cited not in sections:
                missing.append(f"{name}:{number}: {match.group(0)} (no §{cited})")
    assert not missing, "citations of sections docs/method.md does not have:\n" + "\n".join(missing)


def test_method_cross_references_exist() -> None:
    sections = _method_sections()
    missing = [
        f"docs/method.md:{number}: {match.group(0)}"
        for number, line in enumerate(METHOD.read_text().splitlines(), start=1)
        for match in INTERNAL_REFERENCE.finditer(line)
        if any(cited and cited not in sections for cited in match.groups())
    ]
    assert not missing, "references to sections docs/method.md does not have:\n" + "\n".join(missing)


def test_links_into_decisions_md_name_existing_headings() -> None:
    headings = re.findall(r"^#+ (.+)$", DECISIONS.read_text(), flags=re.MULTILINE)
    anchors = {_github_slug(heading) for heading in headings}
    broken = [
        f"{name}:{number}: #{match.group(1)}"
        for name, number, match in _lines_matching(DECISIONS_LINK)
        if match.group(1) not in anchors
    ]
    assert not broken, "links to headings docs/decisions.md does not have:\n" + "\n".join(broken)
