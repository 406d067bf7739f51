"""End-of-run check that no secret used during a pytest session reached any log.

Per-test assertions (``test_secrets_never_shown.py``) only see what one test captured;
a token could still leak from a worker process, a scheduler, a background thread or a
DEBUG record nobody captured. So this plugin, registered in ``tests/conftest.py``:

* at session start, widens logging (DEBUG for ``aperture_trakt_plugin``, INFO for the
  rest) and writes every record this process handles to ``<basetemp>/log-secrets/
  session.log``, without changing what ``caplog`` or pytest's own handlers receive;
* learns the secrets of the run: every token, code and verifier any in-process Trakt
  sandbox issued or saw (its journal survives resets), every client secret registered
  there, the sandbox's default client secret, and each host app's ``SECRET_KEY`` and
  encryption keys (read from the host fixtures' apps);
* at session end, scans that log and every ``*.log`` under this session's basetemp
  (the output files of the worker, scheduler, probe and demo processes the tests
  started) and fails the run, naming the file, the kind of secret and where, and
  showing only a fingerprint (first 4 characters and a short SHA-256), never a secret.

Not scanned because they are not log files: RQ's ``exc_info`` kept in Redis, run logs
stored in the host's database, the sandbox's in-memory request log, and pytest's own
reports. Secrets shorter than ``MIN_SECRET_LENGTH`` are ignored: they would match
ordinary words.
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
import sys
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

MIN_SECRET_LENGTH = 8
PLUGIN_LOGGER = "aperture_trakt_plugin"
SESSION_LOG = Path("log-secrets") / "session.log"
RECORD_MARK = "@@ "  # starts each record's header line in the session log
HOST_SECRET_KEYS = ("SECRET_KEY", "APERTURE_TRAKT_ENCRYPTION_KEYS")
# Secrets made only of these characters can only occur inside a run of them, which lets
# the scanner look words up in a set instead of searching the text once per secret.
WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_.~+/=-")
WORD = re.compile(rf"[A-Za-z0-9_.~+/=-]{{{MIN_SECRET_LENGTH},}}")
MAX_CACHED_WORDS = 200_000
# See allowed_occurrence(); False turns authorization codes in access logs into leaks.
ALLOW_CODES_IN_REDIRECT_REQUEST_LINES = True
REDIRECT_REQUEST_LINE = re.compile(r'"(?:GET|HEAD) [^" ]*[?&]code=$')
CONTEXT_CHARS = 240
# The attributes every LogRecord has; anything else came in through ``extra=`` and is
# written too, since structured log formatters in production would print it.
STANDARD_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

_state_key = pytest.StashKey["LogSecretsRun"]()


# -- secrets -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Secret:
    kind: str
    value: str

    @property
    def fingerprint(self) -> str:
        """Enough to tell which secret it was without revealing it."""
        digest = hashlib.sha256(self.value.encode()).hexdigest()[:10]
        return f"{self.value[:4]}… (sha256 {digest}, {len(self.value)} chars)"


class SecretBook:
    """The run's secrets by value (the first kind given to a value is kept)."""

    def __init__(self) -> None:
        self._by_value: dict[str, Secret] = {}

    def add(self, kind: str, value: object) -> None:
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH:
            value = value.strip()
            self._by_value.setdefault(value, Secret(kind, value))

    def __iter__(self) -> Iterator[Secret]:
        return iter(list(self._by_value.values()))

    def __len__(self) -> int:
        return len(self._by_value)


def add_host_app_secrets(book: SecretBook, app: Any) -> None:
    """A host app's SECRET_KEY, its Fernet keys, and the key the plugin derives from
    SECRET_KEY when none are set (that one is a secret too: it decrypts the tokens)."""
    config = getattr(app, "config", None)
    if not isinstance(config, dict) or "aperture_host" not in getattr(app, "extensions", {}):
        return
    secret_key = config.get("SECRET_KEY")
    book.add("host SECRET_KEY", secret_key)
    keys = config.get("APERTURE_TRAKT_ENCRYPTION_KEYS")
    items = keys.split(",") if isinstance(keys, str) else list(keys or ())
    for key in items:
        book.add("APERTURE_TRAKT_ENCRYPTION_KEYS key", key)
    crypto = sys.modules.get("aperture_trakt_plugin.storage.crypto")
    if crypto is not None and isinstance(secret_key, str | bytes) and secret_key:
        book.add("encryption key derived from SECRET_KEY", crypto.derive_key(secret_key))


def add_sandbox_secrets(book: SecretBook) -> None:
    """What the in-process sandboxes issued (nothing if none ran), and the default
    client secret every test configures."""
    state = sys.modules.get("harness.trakt_sandbox.state")
    if state is not None:
        book.add("client secret", state.DEFAULT_CLIENT_SECRET)
        for entry in state.ISSUED_SECRETS.entries():
            book.add(entry["kind"], entry["value"])
    control_client = sys.modules.get("harness.trakt_sandbox.control_client")
    if control_client is not None:
        book.add("client secret", control_client.DEFAULT_CLIENT_SECRET)


# -- scanning ------------------------------------------------------------------------------
@dataclass
class Leak:
    path: Path
    secret: Secret
    count: int
    line: int
    where: str  # the record's header or the redacted line: never the secret itself

    def describe(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.secret.kind} {self.secret.fingerprint} "
            f"appears {self.count}x\n      {self.where}"
        )


class SecretMatcher:
    """Finds every occurrence of many secrets in a large text in one pass.

    Searching the text once per secret costs (secrets x text); a run issues thousands
    of tokens and writes tens of megabytes of logs. Instead, secrets made of word
    characters are looked up in a set for each window of each distinct word of the text;
    the few others are searched for directly.
    """

    def __init__(self, secrets: Iterable[Secret]) -> None:
        self.by_value = {secret.value: secret for secret in secrets}
        self.words = {value for value in self.by_value if set(value) <= WORD_CHARS}
        self.lengths = sorted({len(value) for value in self.words})
        self.others = [value for value in self.by_value if value not in self.words]
        self._cache: dict[str, list[tuple[str, int]]] = {}

    def _in_word(self, word: str) -> list[tuple[str, int]]:
        hits = self._cache.get(word)
        if hits is None:
            hits = []
            for length in self.lengths:
                if length > len(word):
                    break
                for start in range(len(word) - length + 1):
                    if word[start : start + length] in self.words:
                        hits.append((word[start : start + length], start))
            if len(self._cache) > MAX_CACHED_WORDS:
                self._cache.clear()
            self._cache[word] = hits
        return hits

    def find(self, text: str) -> dict[str, list[int]]:
        """Each secret found, with the offsets where it occurs."""
        found: dict[str, list[int]] = {}
        if self.words:
            for match in WORD.finditer(text):
                for value, start in self._in_word(match.group()):
                    found.setdefault(value, []).append(match.start() + start)
        for value in self.others:
            offset = text.find(value)
            while offset != -1:
                found.setdefault(value, []).append(offset)
                offset = text.find(value, offset + 1)
        return found

    def redact(self, text: str) -> str:
        for value, _ in sorted(self.find(text).items(), key=lambda item: -len(item[0])):
            secret = self.by_value[value]
            text = text.replace(value, f"<{secret.kind} {value[:4]}…>")
        return text


def _where(text: str, offset: int, matcher: SecretMatcher, records: bool) -> str:
    """Where a secret sits, safe to print: in the session log, the header of the record
    holding it (level, logger, call site, test); elsewhere the line itself. Either way
    every known secret in it is replaced by its kind and first 4 characters."""
    if records:
        header = text.rfind("\n" + RECORD_MARK, 0, offset)
        start = header + 1 if header != -1 else (0 if text.startswith(RECORD_MARK) else -1)
        if start != -1:
            end = text.find("\n", start)
            line = text[start + len(RECORD_MARK) : end if end != -1 else None]
            return "record: " + matcher.redact(line)[:CONTEXT_CHARS]
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return "line: " + matcher.redact(text[start : end if end != -1 else None])[:CONTEXT_CHARS]


def allowed_occurrence(secret: Secret, text: str, offset: int) -> bool:
    """An authorization code as the ``code`` parameter of an access log's request line.

    OAuth hands the code to the client in the redirect's query string, so every HTTP
    server's access log records it (here werkzeug, serving the sandbox or the host in the
    browser tests). That is the protocol's design, not a log call of ours, and the code is
    single-use, short-lived and useless without the client secret or PKCE verifier. Only
    that exact spot is let through, and the summary counts it.
    """
    if not ALLOW_CODES_IN_REDIRECT_REQUEST_LINES or secret.kind != "authorization code":
        return False
    line_start = text.rfind("\n", 0, offset) + 1
    after = text[offset + len(secret.value) : offset + len(secret.value) + 1]
    return (
        after in ("&", " ") and REDIRECT_REQUEST_LINE.search(text, line_start, offset) is not None
    )


@dataclass
class Scan:
    leaks: list[Leak] = field(default_factory=list)
    allowed: int = 0  # occurrences let through by :func:`allowed_occurrence`


def scan_text(path: Path, text: str, matcher: SecretMatcher, records: bool = False) -> Scan:
    """The leaks in one log's text; ``records``: it is a session log (record headers)."""
    scan = Scan()
    for value, offsets in matcher.find(text).items():
        secret = matcher.by_value[value]
        leaked = [offset for offset in offsets if not allowed_occurrence(secret, text, offset)]
        scan.allowed += len(offsets) - len(leaked)
        if leaked:
            first = min(leaked)
            scan.leaks.append(
                Leak(
                    path,
                    secret,
                    len(leaked),
                    text.count("\n", 0, first) + 1,
                    _where(text, first, matcher, records),
                )
            )
    scan.leaks.sort(key=lambda leak: leak.line)
    return scan


def scan_files(
    paths: Iterable[Path], secrets: Iterable[Secret], session_logs: Iterable[Path] = ()
) -> Scan:
    """Every secret found in any of the files (read as UTF-8, undecodable bytes replaced);
    ``session_logs`` are written by :class:`SessionLogHandler` (one header per record)."""
    with_records = {path.resolve() for path in session_logs}
    matcher = SecretMatcher(secrets)
    total = Scan()
    for path in paths:
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue
        scan = scan_text(path, text, matcher, path.resolve() in with_records)
        total.leaks.extend(scan.leaks)
        total.allowed += scan.allowed
    return total


def log_files(root: Path, also: Iterable[Path] = ()) -> list[Path]:
    """The session log and every ``*.log`` under ``root`` (this session's basetemp)."""
    files = {path.resolve() for path in also if path.is_file()}
    if root.is_dir():
        files.update(path.resolve() for path in root.rglob("*.log") if path.is_file())
    return sorted(files)


# -- the session log -----------------------------------------------------------------------
class SessionLogHandler(logging.Handler):
    """Writes each record with a header line naming its logger, call site and the test
    that was running, so a leak report can say where the log call is."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.DEBUG)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.stream = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        self.test = "-"
        self.records = 0
        self._body = logging.Formatter("%(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            body = self._body.format(record)
            extra = {
                key: value for key, value in vars(record).items() if key not in STANDARD_RECORD_KEYS
            }
            if extra:
                body += f"\nextra: {extra!r}"
            header = (
                f"{RECORD_MARK}{self._body.formatTime(record)} {record.levelname} "
                f"{record.name} {record.pathname}:{record.lineno} [{self.test}]"
            )
            self.stream.write(f"{header}\n{body}\n")
            self.stream.flush()
            self.records += 1
        except Exception:  # a broken record must not break the test: report it, go on
            self.handleError(record)

    def close(self) -> None:
        with self.lock:
            if not self.stream.closed:
                self.stream.close()
        super().close()


@dataclass
class LoggingTap:
    """Lets the session handler see DEBUG/INFO records that nothing else would see.

    Lowering logger levels alone would also send those records to ``caplog`` and to
    pytest's report handlers, changing what tests capture. So the widened loggers get a
    sentinel level one below the target (INFO-1, DEBUG-1), and ``Logger.callHandlers``
    is wrapped: every record goes to the session handler, but only records at or above
    the level the logger *would* have had without the sentinels go on to the usual
    handlers. The session handler is not in any logger's ``handlers`` list, so checks
    like Flask's ``has_level_handler`` or ``logging.basicConfig`` see the tree as it was.
    A test that sets a level itself (``caplog.set_level``) replaces the sentinel and is
    obeyed exactly as before.
    """

    handler: logging.Handler
    targets: dict[str, int] = field(
        default_factory=lambda: {"": logging.INFO, PLUGIN_LOGGER: logging.DEBUG}
    )
    _sentinels: dict[int, tuple[int, int]] = field(default_factory=dict)
    _loggers: list[logging.Logger] = field(default_factory=list)
    _original: Callable[[logging.Logger, logging.LogRecord], None] | None = None

    def install(self) -> None:
        for name, target in self.targets.items():
            logger = logging.getLogger(name or None)
            if logger.level and logger.level <= target:
                continue  # already at least as wide: nothing to hide from anyone
            sentinel = target - 1
            self._sentinels[id(logger)] = (sentinel, logger.level)
            self._loggers.append(logger)
            logger.setLevel(sentinel)
        self._original = original = logging.Logger.callHandlers
        tap = self

        def call_handlers(logger: logging.Logger, record: logging.LogRecord) -> None:
            if record.levelno >= tap.handler.level:
                tap.handler.handle(record)
            if record.levelno >= tap.level_without_sentinels(logger):
                original(logger, record)

        logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]

    def level_without_sentinels(self, logger: logging.Logger) -> int:
        node: logging.Logger | None = logger
        while node is not None:
            level = node.level
            sentinel = self._sentinels.get(id(node))
            if sentinel is not None and level == sentinel[0]:
                level = sentinel[1]
            if level:
                return level
            node = node.parent  # type: ignore[assignment]
        return logging.NOTSET

    def uninstall(self) -> None:
        if self._original is not None:
            logging.Logger.callHandlers = self._original  # type: ignore[method-assign]
            self._original = None
        for logger in self._loggers:
            sentinel, level = self._sentinels[id(logger)]
            if logger.level == sentinel:
                logger.setLevel(level)
        self._loggers.clear()
        self._sentinels.clear()


# -- the pytest plugin ---------------------------------------------------------------------
@dataclass
class LogSecretsRun:
    basetemp: Path
    handler: SessionLogHandler
    tap: LoggingTap
    book: SecretBook = field(default_factory=SecretBook)


def _basetemp(config: pytest.Config) -> Path:
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None:
        return Path(factory.getbasetemp())
    return Path(tempfile.mkdtemp(prefix="log-secrets-"))


def _start(config: pytest.Config) -> LogSecretsRun | None:
    if _state_key in config.stash:
        return config.stash[_state_key]
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has no basetemp
        return None
    basetemp = _basetemp(config)
    handler = SessionLogHandler(basetemp / SESSION_LOG)
    run = LogSecretsRun(basetemp, handler, LoggingTap(handler))
    run.tap.install()
    config.stash[_state_key] = run
    return run


def pytest_sessionstart(session: pytest.Session) -> None:
    _start(session.config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Tags the session log's records with the running test (the conftest may have been
    loaded after ``pytest_sessionstart``, so starting here too is not redundant)."""
    run = _start(item.config)
    if run is not None:
        run.handler.test = item.nodeid
    try:
        return (yield)
    finally:
        if run is not None:
            run.handler.test = "-"


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Learns each host app's keys as the fixture hands the app out."""
    result = yield
    run = request.config.stash.get(_state_key, None)
    if run is not None:
        add_host_app_secrets(run.book, result)
    return result


def pytest_fixture_post_finalizer(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> None:
    """And again as it is torn down: a test may have changed the app's keys."""
    run = request.config.stash.get(_state_key, None)
    cached = getattr(fixturedef, "cached_result", None)
    if run is not None and cached is not None:
        add_host_app_secrets(run.book, cached[0])


def _report(config: pytest.Config, lines: list[str], failed: bool) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print("\n".join(lines), file=sys.stderr)
        return
    reporter.write_line("")  # ends the progress line (-q leaves it open)
    if failed:
        reporter.write_sep("=", "secrets found in logs", red=True, bold=True)
    for line in lines:
        reporter.write_line(line, red=failed)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Runs after the runner has torn down every fixture (so every process has stopped
    and flushed its log), scans, and fails the session if anything leaked."""
    run = session.config.stash.get(_state_key, None)
    if run is None:
        return
    run.tap.uninstall()
    run.handler.close()
    add_sandbox_secrets(run.book)
    files = log_files(run.basetemp, [run.handler.path])
    scan = scan_files(files, run.book, [run.handler.path])
    allowed = (
        f"; {scan.allowed} authorization codes in access-log redirect lines, allowed"
        if scan.allowed
        else ""
    )
    summary = (
        f"log-secrets: {len(run.book)} secrets checked against {len(files)} log "
        f"files ({run.handler.records} records in {run.handler.path}{allowed})"
    )
    if not scan.leaks:
        _report(session.config, [summary + ": none found"], failed=False)
        return
    lines = [summary + f": {len(scan.leaks)} leaks", *(leak.describe() for leak in scan.leaks)]
    _report(session.config, lines, failed=True)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
