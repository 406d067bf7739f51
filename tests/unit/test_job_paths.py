"""A job queued by an older release names its function by a dotted path
stored in Redis (rq) or in rq-scheduler's schedule.  Those strings must keep
importing to the same callable after any module move (issue 16).

Needs no Redis, database or network: it resolves each path the way an rq
worker does, with ``rq.utils.import_attribute``.
"""

import pytest
from rq.utils import import_attribute

# Every dotted job path a released version may have stored.  Never remove a
# line: add the new path beside it and keep an alias module at the old one.
OLD_JOB_PATHS = [
    "aperture_trakt_plugin.jobs.sync_user",
    "aperture_trakt_plugin.jobs.push_user",
    "aperture_trakt_plugin.jobs.library_arrivals",
    "aperture_trakt_plugin.jobs.run_sync_all",
    "aperture_trakt_plugin.discovery.refresh.run_refresh",
    "aperture_trakt_plugin.discovery.refresh.refresh_user_job",
    "aperture_trakt_plugin.discovery.hide.send_job",
    # since the layered layout (issue 16); the four above stay through jobs.py
    "aperture_trakt_plugin.usecases.jobs.sync_user",
    "aperture_trakt_plugin.usecases.jobs.push_user",
    "aperture_trakt_plugin.usecases.jobs.library_arrivals",
    "aperture_trakt_plugin.usecases.jobs.run_sync_all",
]


@pytest.mark.parametrize("path", OLD_JOB_PATHS)
def test_old_job_path_still_imports_to_a_callable(path):
    func = import_attribute(path)
    assert callable(func), path


def test_every_job_path_named_in_the_package_is_listed():
    """A new dotted job string in the package must be added above, so the
    next move keeps it importable."""
    import pathlib
    import re

    import aperture_trakt_plugin

    root = pathlib.Path(aperture_trakt_plugin.__file__).parent
    pattern = re.compile(r'"(aperture_trakt_plugin\.[a-z_.]+\.[a-z_]+)"')
    found = set()
    for py in root.rglob("*.py"):
        for m in pattern.finditer(py.read_text()):
            path = m.group(1)
            try:
                obj = import_attribute(path)
            except Exception:  # a logger name or a package, not a job
                continue
            if callable(obj) and not isinstance(obj, type):
                found.add(path)
    missing = found - set(OLD_JOB_PATHS)
    assert not missing, f"job paths not listed in OLD_JOB_PATHS: {sorted(missing)}"
