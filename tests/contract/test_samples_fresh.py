"""The copies in ``tests/samples/trakt-api`` still match ``../shared/trakt-api/samples``.

The suite reads only the copies; this check runs where the shared contract is checked
out next to the repository and is skipped, saying why, elsewhere.
"""

from pathlib import Path

import pytest

COPIES = Path(__file__).resolve().parents[1] / "samples" / "trakt-api"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "trakt-api" / "samples"


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"no shared samples to compare at {SHARED}")
def test_copied_samples_match_the_shared_ones() -> None:
    shared = {path.name: path.read_bytes() for path in SHARED.glob("*.json")}
    shared["SOURCE.md"] = (SHARED / "SOURCE.md").read_bytes()
    copies = {path.name: path.read_bytes() for path in COPIES.iterdir() if path.is_file()}
    assert sorted(copies) == sorted(shared), "copy the new or removed sample files too"
    stale = sorted(name for name in shared if copies[name] != shared[name])
    assert not stale, f"copies differ from ../shared/trakt-api/samples: {stale}"
