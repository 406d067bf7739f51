"""The recorded Trakt answers the suite reads are copies kept in ``tests/samples/``, so a
clone runs its tests without the project's ``../shared`` folder beside it. Where that
folder is present (our machines, CI), the copies must still be the same bytes: the
contract's samples are the reference, and a sample corrected there must not be missed
here."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "samples"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "trakt-api" / "samples"
COPIES = {"trakt-api": "", "not_found_observed": "not_found_observed"}


def sample_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.json"))}


def test_the_copies_are_there() -> None:
    for copy in COPIES:
        assert sample_files(HERE / copy), f"no samples in {HERE / copy}"


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_the_copies_match_the_contracts_samples(copy: str) -> None:
    source = SHARED / COPIES[copy]
    if not source.is_dir():
        pytest.skip(f"{source} is absent (a clone on its own): nothing to compare the "
                    "copies with")
    assert sample_files(HERE / copy) == sample_files(source), (
        f"tests/samples/{copy} differs from {source}: copy the files again")
