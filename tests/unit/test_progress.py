"""A long sync's progress reports (``sync.progress``): the lines a person reads, and the
throttle that keeps a log to a line per stage and a few in between."""

from __future__ import annotations

from aperture_trakt_plugin.sync.progress import (
    MERGING,
    READING,
    WAITING,
    WRITING,
    Throttle,
    describe,
)


def test_each_stage_reads_as_a_sentence():
    assert describe(READING, 3, 40) == "reading Trakt's ratings: page 3 of 40"
    assert describe(MERGING, 100000, 100000) == "merged 100,000 items"
    assert describe(WRITING, 500, 1200) == "writes sent to Trakt: 500 of 1,200"
    assert describe(WAITING, 500, 1200) == (
        "waiting for Trakt's write spacing: 500 of 1,200 writes sent"
    )
    assert describe(READING, 1, None) == "reading Trakt's ratings: page 1 of ?"


def test_the_throttle_passes_stage_changes_completions_and_one_report_per_interval():
    now = [0.0]
    seen: list[tuple[str, int, int | None]] = []
    throttle = Throttle(lambda *report: seen.append(report), interval=2.0, clock=lambda: now[0])
    for page in range(1, 11):  # ten pages in one second: the first and the last pass
        throttle(READING, page, 10)
        now[0] += 0.1
    throttle(MERGING, 5, 5)  # a new stage passes at once
    throttle(WRITING, 1, 3)
    now[0] += 2.5
    throttle(WRITING, 2, 3)  # the interval has passed
    throttle(WRITING, 3, 3)  # and the stage completes
    assert seen == [
        (READING, 1, 10),
        (READING, 10, 10),
        (MERGING, 5, 5),
        (WRITING, 1, 3),
        (WRITING, 2, 3),
        (WRITING, 3, 3),
    ]
