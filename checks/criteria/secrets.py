"""`secrets`: credentials committed to the repository, reported without ever showing them.

What is detected, on the raw bytes of each file (so binary and non-UTF-8 files are scanned
too, and line numbers are those of the file as text):

- private key blocks (`-----BEGIN … PRIVATE KEY-----` up to its `-----END …-----` line,
  also inside JSON strings with `\\n` escapes), named as a Google Cloud service-account key
  when the file is a service-account JSON;
- tokens recognisable by their shape: AWS access key ids, GitHub, Hugging Face,
  OpenAI-style (`sk-…`) and Google API keys;
- `wandb.login(key="…")`;
- a literal assigned to a name ending in `API_KEY`, `ACCESS_KEY`, `SECRET_KEY`, `SECRET`,
  `TOKEN` or `PASSWORD` (`.env`, YAML, TOML, JSON, notebooks and code), when the value looks
  random: placeholders, references (`${{ secrets.X }}`, `os.environ[...]`, `<TOKEN>`) and
  ordinary words are not secrets.

Not detected: a credential split into pieces (string concatenation over two lines) unless
one piece alone still has the full shape of a token; text inside compressed files (images,
archives, model checkpoints); UTF-16 text; anything past the snapshot's read cap of a
larger file (its first bytes are scanned); committed virtual environments and installed
packages (`hygiene` reports those folders, and their test keys are not the group's).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter

from checks.criteria.hygiene import committed_junk
from checks.models import Annotation, Level
from checks.registry import Context, Outcome, criterion, failed, passed
from checks.snapshot import Snapshot

# Compressed or compiled formats: a credential inside is not readable text, so reading
# them would only cost time.
# fmt: off
_UNREADABLE = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ico", ".heic",  # images
    ".mp3", ".mp4", ".wav", ".flac", ".ogg", ".avi", ".mov", ".mkv", ".webm",  # audio, video
    ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst", ".whl", ".jar", ".egg", ".pdf",
    ".woff", ".woff2", ".ttf", ".otf", ".eot",  # fonts
    ".pyc", ".pyo", ".so", ".dll", ".dylib", ".exe", ".o", ".a", ".class",  # compiled
    ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".hdf5", ".keras", ".safetensors", ".tflite",
    ".npy", ".npz", ".parquet", ".pkl", ".pickle", ".joblib",  # models and data
})
# Code, where only a string literal is a hard-coded value (`token = get_token()` is not);
# elsewhere a value may stand unquoted after `NAME=` or `name:` (`.env`, YAML, notebooks'
# `%env NAME=value`).
_CODE = frozenset({
    ".py", ".pyi", ".js", ".jsx", ".ts", ".tsx", ".java", ".go", ".rs", ".c", ".h",
    ".cpp", ".hpp", ".cs", ".rb", ".php", ".r", ".jl", ".scala", ".kt", ".swift", ".json",
})
# fmt: on

# One regex for every credential with a recognisable shape. Each alternative starts with a
# literal, so `re` only tries the places where one of their first characters stands: that
# is the prefilter (0.2 s on 26 MB of Python). It has no groups and no lookbehind on
# purpose: either one makes `re` try every byte (20x slower). Kinds and word boundaries
# are told apart after a match, from its first characters.
_SHAPES = re.compile(
    rb"-----BEGIN [A-Z0-9 ]{0,30}?PRIVATE KEY(?: BLOCK)?-----"
    rb"|A[KS]IA[A-Z0-9]{16}(?![A-Za-z0-9])"
    rb"|gh[pousr]_[A-Za-z0-9]{36,251}(?!\w)"
    rb"|github_pat_\w{22,251}(?!\w)"
    rb"|hf_[A-Za-z0-9]{34,100}(?!\w)"
    rb"|sk-[\w-]{32,300}(?![\w-])"
    rb"|AIza[\w-]{35}(?![\w-])"
    rb"|wandb\.login\("
)
# Shape prefix -> (kind, how many characters are a public prefix safe to show).
_SHAPE_KINDS = (
    (b"-----BEGIN", "private key", 0),
    (b"github_pat_", "GitHub token", 11),
    (b"gh", "GitHub token", 4),
    (b"hf_", "Hugging Face token", 3),
    (b"sk-", "OpenAI-style API key", 3),
    (b"AIza", "Google API key", 4),
    (b"A", "AWS access key", 4),
    (b"wandb", "W&B API key", 0),
)
_TOKEN_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# A string literal, as in code, JSON (`\"` inside notebooks) or YAML, or a bare value (which
# stops at a backslash: `%env KEY=value\n` in a notebook's JSON).
_VALUE = (
    rb"\\?[\"'\]]{0,3}[ \t]*(?P<operator>:=|==?|:|,|=>)[ \t]*"
    rb"(?:[rbfu]{0,2}(?P<q>\\?[\"'])(?P<quoted>[^\"'\\\r\n]{1,300})(?P=q)"
    rb"|(?P<bare>[^\s\"'`#,;()\[\]<>\\]{1,300}))"
)
# Each starts with a literal, so `re` skips to its occurrences quickly. They run on the
# lowercased bytes (same offsets) because names come in every case: `API_KEY`, `apiKey`.
_KEY_NAMES = (
    *("api_key", "apikey", "api-key", "access_key", "access-key"),
    *("secret_key", "secret-key", "private_key", "private-key"),
)
# Plain `key` is everywhere (`"key": "value"`), so only the names above get past `key`:
# a lookbehind placed after the literal keeps the fast literal search.
_KEY = rb"key(?:" + rb"|".join(rb"(?<=%s)" % re.escape(n.encode()) for n in _KEY_NAMES) + rb")"
_ASSIGNMENTS = tuple(
    re.compile(rb"(?P<keyword>" + keyword + rb")" + _VALUE)
    for keyword in (_KEY, rb"secret", rb"token", rb"passw(?:or)?d")
)
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_LOGIN_KEY = re.compile(rb"[^)]{0,200}?\bkey\s*=\s*[rbf]?(\\?[\"'])([^\"'\\\r\n]{1,300})\1")
_SERVICE_ACCOUNT = re.compile(rb"[\"']type\\?[\"']\s*:\s*\\?[\"']service_account")
_END = re.compile(rb"-----END [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----")
_BASE64 = re.compile(rb"[A-Za-z0-9+/=]")
# Words that mark an example value, never a real credential.
_PLACEHOLDER = re.compile(
    r"your|xxx|changeme|change[_-]me|placeholder|example|dummy|fake|sample|redacted|replace"
    r"|insert|todo|here|test|secret|token|password|api[_-]?key|\.\.\.|\*\*\*|[<>{}$%]",
    re.I,
)
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_PEM_BODY_LIMIT = 64 * 1024
_SERVICES = (
    ("wandb", "W&B API key"),
    ("aws_secret", "AWS secret access key"),
    ("secret_access_key", "AWS secret access key"),
    ("github", "GitHub token"),
    ("hugging", "Hugging Face token"),
    ("hf_", "Hugging Face token"),
    ("openai", "OpenAI-style API key"),
)


@dataclasses.dataclass(frozen=True)
class SecretFinding:
    """A committed credential: where it is and what it is, never the value itself."""

    path: str
    start_line: int
    end_line: int
    kind: str  # "GitHub token"
    redacted: str  # "ghp_… (40 characters)"
    name: str = ""  # the variable or key it is assigned to, when there is one


@dataclasses.dataclass(frozen=True)
class _Hit:
    start: int  # byte offsets of the credential in the file
    end: int
    kind: str
    redacted: str
    name: str = ""


_REVOKE = {
    "private key": "Replace the key pair and remove its public half wherever it was trusted "
    "(deploy keys, servers' `authorized_keys`).",
    "Google Cloud service-account key": "Delete this key in the Google Cloud console (IAM & "
    "Admin → Service accounts → Keys) and create a new one only if you still need it.",
    "AWS access key": "Deactivate and delete it in the AWS console (IAM → Security credentials).",
    "AWS secret access key": "Deactivate and delete its access key in the AWS console (IAM → "
    "Security credentials).",
    "GitHub token": "Revoke it at https://github.com/settings/tokens.",
    "Hugging Face token": "Invalidate it at https://huggingface.co/settings/tokens.",
    "OpenAI-style API key": "Revoke it in the provider's dashboard (OpenAI: "
    "https://platform.openai.com/api-keys).",
    "Google API key": "Delete or regenerate it in the Google Cloud console (APIs & Services → "
    "Credentials).",
    "W&B API key": "Reset it at https://wandb.ai/authorize (User settings → API keys).",
}
_REVOKE_OTHER = "Change it at the service that issued it."


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character: random keys score high, words and repeats low."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _random(value: str, min_length: int) -> bool:
    """Whether a literal looks like a generated credential rather than an example or a name."""
    if len(value) < min_length or any(c.isspace() for c in value):
        return False
    if _PLACEHOLDER.search(value) or _ENV_NAME.fullmatch(value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    return _entropy(value) >= 3.0


def redact(value: str, prefix: str = "") -> str:
    """A form safe to print: the value's public prefix (`ghp_`), or its first characters
    (four at most, never more than a quarter of it), and its length."""
    shown = prefix or value[: min(4, len(value) // 4)]
    return f"{shown}… ({len(value)} characters)"


def _shape_hit(match: re.Match[bytes], data: bytes) -> _Hit | None:
    """A credential recognised by its shape, or None when the match is an example."""
    found = match.group()
    kind, public = next((k, n) for prefix, k, n in _SHAPE_KINDS if found.startswith(prefix))
    if kind == "private key":
        return _private_key(match, data)
    if match.start() > 0 and data[match.start() - 1] in _TOKEN_CHARS:
        return None  # the middle of a longer word, e.g. `task-…`
    if kind == "W&B API key":
        login = _LOGIN_KEY.match(data, match.end())
        if login is None:
            return None
        secret = login.group(2).decode("latin-1")
        if not _random(secret, 16):
            return None
        return _Hit(login.start(2), login.end(2), kind, redact(secret), "wandb.login")
    value = found.decode("ascii")
    if kind == "OpenAI-style API key" and (project := re.match(r"sk-[a-z]{2,8}-", value)):
        public = project.end()  # `sk-proj-`, `sk-svcacct-`, `sk-ant-`
    body = value[public:]
    if _PLACEHOLDER.search(body) or _entropy(body) < 3.0:
        return None
    # Real keys of these kinds mix letters and digits; words joined by dashes do not.
    if kind in ("OpenAI-style API key", "AWS access key") and not (
        any(c.isdigit() for c in body) and any(c.isalpha() for c in body)
    ):
        return None
    return _Hit(match.start(), match.end(), kind, redact(value, value[:public]))


def _private_key(match: re.Match[bytes], data: bytes) -> _Hit | None:
    """A private key block up to its END line; a header alone (as in code that parses keys)
    or a block of dots is not a key."""
    end = _END.search(data, match.end(), match.end() + _PEM_BODY_LIMIT)
    if end is None:
        return None
    # Inside JSON (a service-account file) the line breaks are `\n` escapes.
    body = b"".join(data[match.end() : end.start()].replace(b"\\n", b" ").split())
    key_chars = len(_BASE64.findall(body))
    if key_chars < 64 or key_chars < 0.9 * len(body):
        return None
    kind = "private key"
    if _SERVICE_ACCOUNT.search(data):
        kind = "Google Cloud service-account key"
    return _Hit(
        match.start(), end.end(), kind, f"{match.group().decode()}… ({key_chars:,} characters)"
    )


def _assignment_hits(data: bytes, code: bool, shaped: list[_Hit]) -> list[_Hit]:
    """Literals assigned to names like `WANDB_API_KEY`, `hf_token` or `db_password`.

    A value that already has a recognised shape (`HF_TOKEN=hf_…`) is reported once, by its
    shape, which gains the name it is assigned to.
    """
    hits = []
    lowered = data.lower()  # same offsets: names come in every case (`API_KEY`, `apiKey`)
    for pattern in _ASSIGNMENTS:
        for match in pattern.finditer(lowered):
            if match.group("bare") is not None and code:
                continue
            start = match.start()
            while start > 0 and data[start - 1] in _NAME_CHARS:
                start -= 1
            name = data[start : match.end("keyword")].decode("ascii")
            # `("WANDB_API_KEY", "…")` sets a variable; `("password", "localhost")` is a list.
            if match.group("operator") == b"," and not name.isupper():
                continue
            kind = _assignment_kind(name.lower())
            if kind is None:
                continue
            group = "quoted" if match.group("quoted") is not None else "bare"
            at, end = match.span(group)
            overlap = next((i for i, h in enumerate(shaped) if at < h.end and h.start < end), None)
            if overlap is not None:
                shaped[overlap] = dataclasses.replace(shaped[overlap], name=name)
                continue
            value = data[at:end].decode("latin-1")
            if _random(value, 10 if kind == "password" else 16):
                hits.append(_Hit(at, end, kind, redact(value), name))
    return hits


def _assignment_kind(name: str) -> str | None:
    """What a name says its value is, or None for names like `tokenizer` or `key`."""
    if name.endswith(("password", "passwd")):
        return "password"
    if not name.endswith(("token", "secret", *_KEY_NAMES)):
        return None
    # The service in the name tells the student where to revoke it.
    for marker, kind in _SERVICES:
        if marker in name:
            return kind
    return "access token" if name.endswith("token") else "secret" if "secret" in name else "API key"


def _scan(data: bytes, code: bool) -> list[_Hit]:
    """Credentials in one file's bytes, in order."""
    hits = [hit for match in _SHAPES.finditer(data) if (hit := _shape_hit(match, data))]
    hits += _assignment_hits(data, code, hits)
    hits.sort(key=lambda h: h.start)
    return hits


def _find(snapshot: Snapshot) -> tuple[list[SecretFinding], int]:
    third_party = committed_junk(snapshot).third_party_prefixes
    findings: list[SecretFinding] = []
    scanned = 0
    for path, entry in snapshot.files.items():
        name = path.rpartition("/")[2]
        suffix = name[name.rfind(".") :].lower() if "." in name else ""
        # A symlink's target is inside the snapshot (others are dropped) and scanned itself.
        if entry.size == 0 or entry.is_symlink or suffix in _UNREADABLE:
            continue
        if path.startswith(third_party):
            continue
        # Other criteria read every Python file through the snapshot's text cache: share it
        # (re-encoding keeps the line numbers). Other files are read once, here, as bytes.
        text = snapshot.text(path) if suffix == ".py" else None
        data = text.encode() if text is not None else snapshot.raw(path, snapshot.read_cap)
        scanned += 1
        line, at = 1, 0
        for hit in _scan(data, suffix in _CODE):
            line += data.count(b"\n", at, hit.start)
            at = hit.start
            last = line + data.count(b"\n", hit.start, hit.end - 1)
            findings.append(SecretFinding(path, line, last, hit.kind, hit.redacted, hit.name))
    findings.sort(key=lambda f: (f.path, f.start_line))
    return findings, scanned


def _scan_snapshot(snapshot: Snapshot) -> tuple[list[SecretFinding], int]:
    return snapshot.memo("secrets", _find)


def secret_findings(snapshot: Snapshot) -> list[SecretFinding]:
    """Every credential found in the snapshot (computed once), e.g. so that files holding
    one are never sent anywhere."""
    return _scan_snapshot(snapshot)[0]


def _lines(finding: SecretFinding) -> str:
    if finding.end_line == finding.start_line:
        return f"line {finding.start_line}"
    return f"lines {finding.start_line}–{finding.end_line}"


def _annotation(finding: SecretFinding) -> Annotation:
    assigned = f", assigned to `{finding.name}`" if finding.name else ""
    article = "an" if finding.kind[0] in "AEIOUaeiou" else "a"
    return Annotation(
        path=finding.path,
        start_line=finding.start_line,
        end_line=finding.end_line,
        level=Level.failure,
        title=f"Committed {finding.kind}: {finding.redacted}",
        message=(
            f"{_lines(finding).capitalize()} of `{finding.path}` holds {article} "
            f"{finding.kind}{assigned}. It is in the git history now, so anyone who can read "
            "the repository can use it, even after you delete the line. "
            f"{_REVOKE.get(finding.kind, _REVOKE_OTHER)} Then load it from the environment "
            '(`os.environ["NAME"]`): keep local values in a `.env` file listed in '
            "`.gitignore`, use a repository secret in GitHub Actions (`${{ secrets.NAME }}`), "
            "and Secret Manager on Google Cloud."
        ),
        rank=0,
    )


@criterion(
    "secrets",
    title="No committed credentials",
    module="M5",
    fix="""
    Treat every credential listed as leaked: revoke or rotate it first, at the service that
    issued it (each annotation says where) — deleting it from the code is not enough, it
    stays in the git history. Then read it from the environment instead
    (`os.environ["WANDB_API_KEY"]`), keep local values in a `.env` file listed in
    `.gitignore`, store it as a repository secret for GitHub Actions (`${{ secrets.NAME }}`),
    and use Secret Manager on Google Cloud.
    """,
    thresholds={"max_annotations": 50},
    rank=0,
)
def secrets(snapshot: Snapshot, context: Context) -> Outcome:
    """Finds credentials committed to the repository: private keys, Google Cloud
    service-account keys, AWS, GitHub, Hugging Face, W&B and OpenAI-style keys, and
    random-looking values assigned to names like `API_KEY`, `TOKEN` or `PASSWORD`.

    Anything committed stays in the git history, and a public (or later published)
    repository is scanned by bots within minutes, so a committed key must be revoked, not
    only deleted. Placeholders such as `your-key-here`, `<TOKEN>` and references such as
    `${{ secrets.X }}` or `os.environ[...]` are fine. The credential itself is never shown
    here, only its first characters and length.
    """
    findings, scanned = _scan_snapshot(snapshot)
    metrics = {
        "findings": len(findings),
        "files": len({f.path for f in findings}),
        "scanned_files": scanned,
        "kinds": dict(Counter(f.kind for f in findings)),
    }
    if not findings:
        return passed(f"No credentials found in {scanned:,} scanned files.", metrics=metrics)
    where = ", ".join(f"{f.kind} in {f.path}:{f.start_line}" for f in findings[:3])
    if len(findings) > 3:
        where += f" and {len(findings) - 3} more"
    count = f"{len(findings)} committed credential" + ("" if len(findings) == 1 else "s")
    details = "| Where | What | Value (redacted) |\n|---|---|---|\n" + "\n".join(
        f"| `{f.path}` {_lines(f)} | {f.kind}"
        + (f" (`{f.name}`)" if f.name else "")
        + f" | `{f.redacted}` |"
        for f in findings
    )
    return failed(
        f"Found {count}: {where}. Revoke {'it' if len(findings) == 1 else 'them'} now.",
        details=details,
        metrics=metrics,
        annotations=[
            _annotation(f) for f in findings[: int(context.thresholds["max_annotations"])]
        ],
    )
