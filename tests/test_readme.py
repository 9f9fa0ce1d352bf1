"""The README's results summary is the committed report's, derived from the same tables."""

from __future__ import annotations

from pathlib import Path

from basnet_lib.reproduction.report import results_summary

ROOT = Path(__file__).resolve().parents[1]


def test_readme_summary_matches_the_committed_tables() -> None:
    readme = (ROOT / "README.md").read_text()
    assert results_summary(ROOT / "results") in readme, (
        "README's results summary differs from the committed tables: paste "
        "basnet_lib.reproduction.report.results_summary('results') into README.md"
    )


def test_report_never_calls_an_unsupported_gain_reproduced() -> None:
    for path in (ROOT / "README.md", ROOT / "results" / "REPORT.md"):
        assert "reproduced" not in path.read_text().lower().replace("reproducibility", ""), path
