"""Deployment and operations: cloud builds, the API, its tests and load tests, serving,
frontends, drift detection, monitoring and documentation (M21-M32).

Libraries are detected through the shared import index (`checks.facts`); special files
(Cloud Build configs, locustfiles, ONNX models, MkDocs configs) through one pass over the
file names.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from checks.criteria.ci import cite, valid_workflows
from checks.criteria.testing import suite_files
from checks.facts import Place, declared_dependencies, imported, normalise
from checks.models import Annotation, Level
from checks.parsing import ParseError, SafeLoader
from checks.registry import Context, Outcome, criterion, failed, passed
from checks.snapshot import Snapshot

# One regex over base names sorts every special file in a single pass over the tree.
_SPECIAL_NAME = re.compile(
    r"(?P<cloudbuild>cloudbuild[^/]*\.ya?ml)"
    r"|(?P<locustfile>locustfile[^/]*\.py)"
    r"|(?P<onnx>[^/]+\.onnx)"
    r"|(?P<mkdocs>mkdocs\.ya?ml)",
    re.IGNORECASE,
)


def _sort_special_files(snapshot: Snapshot) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"cloudbuild": [], "locustfile": [], "onnx": [], "mkdocs": []}
    for path in snapshot.paths:
        match = _SPECIAL_NAME.fullmatch(path, path.rfind("/") + 1)
        if match and match.lastgroup:
            found[match.lastgroup].append(path)
    return found


def _special_files(snapshot: Snapshot) -> dict[str, list[str]]:
    """Cloud Build configs, locustfiles, ONNX models and MkDocs configs, by kind."""
    return snapshot.memo("deployment:special_files", _sort_special_files)


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _files_importing(snapshot: Snapshot, *modules: str) -> list[str]:
    return list(dict.fromkeys(p.path for p in imported(snapshot, *modules)))


# -- "uses library X" criteria -----------------------------------------------------------------


@dataclass(frozen=True)
class Library:
    name: str  # as students know it
    modules: tuple[str, ...]  # top-level import names
    distributions: tuple[str, ...]  # names in requirements files / pyproject


def _library_outcome(
    snapshot: Snapshot,
    libraries: Sequence[Library],
    what: str,
    extra: Sequence[tuple[str, Place]] = (),
) -> Outcome:
    """Met when one of `libraries` is imported (or `extra` evidence exists), with file:line."""
    evidence = [
        (library.name, place)
        for library in libraries
        for place in imported(snapshot, *library.modules)
    ]
    evidence += extra
    names = list(dict.fromkeys(name for name, _ in evidence))
    metrics = {"libraries": names, "places": len(evidence)}
    if evidence:
        by_name = "; ".join(
            f"{name} in {cite(p for n, p in evidence if n == name)}" for name in names
        )
        return passed(
            f"{what[0].upper()}{what[1:]}: {by_name}.",
            details="\n".join(f"- {name} at {p.path}:{p.line}" for name, p in evidence[:50]),
            metrics=metrics,
        )
    declared = declared_dependencies(snapshot)
    hints = [
        (library.name, declared[normalise(d)])
        for library in libraries
        for d in library.distributions
        if normalise(d) in declared
    ]
    if hints:
        shown = ", ".join(f"{name} ({path})" for name, path in dict.fromkeys(hints))
        return failed(
            f"Declared as a dependency but not imported by any Python file yet: {shown}.",
            metrics=metrics,
        )
    options = ", ".join(library.name for library in libraries)
    return failed(f"No {what} found: none of {options} is imported.", metrics=metrics)


# -- cloud-build -------------------------------------------------------------------------------

_DOCKER_BUILD = re.compile(
    r"\bdocker\s+(?:image\s+|buildx\s+)?build\b|\bdocker[\s-]compose\s.*\bbuild\b"
)
_DOCKER_PUSH = re.compile(
    r"\bdocker\s+(?:image\s+)?push\b|\bdocker[\s-]compose\s.*\bpush\b|\bbuildx\s+build\b.*--push\b"
)
_CLOUD_BUILD_CLI = re.compile(r"\bgcloud\s+builds\s+submit\b|\bgcloud\s+run\s+deploy\b.*--source\b")


def _truthy(value: Any) -> bool:
    return value is not None and str(value).strip().lower() not in ("", "false", "0", "no")


def _cloudbuild_config(snapshot: Snapshot, path: str) -> tuple[int, ParseError | None]:
    """The number of steps of a Cloud Build config, or why it cannot be used."""
    parsed = snapshot.yaml(path)
    if parsed.error is not None:
        return 0, parsed.error
    data = parsed.data
    build_steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(build_steps, list) or not build_steps:
        line = parsed.node.start_mark.line + 1 if parsed.node is not None else 1
        return 0, ParseError("a Cloud Build config needs a non-empty `steps:` list", line)
    return len(build_steps), None


def _workflow_builds(snapshot: Snapshot) -> list[tuple[str, Place]]:
    """Workflow jobs that build and push an image, or hand the build to Cloud Build."""
    found: list[tuple[str, Place]] = []
    for workflow in valid_workflows(snapshot):
        for job in workflow.jobs:
            builds = False
            for step in job.steps:
                if step.action == "docker/build-push-action" and _truthy(step.with_.get("push")):
                    found.append(
                        ("`docker/build-push-action` with push", Place(step.workflow, step.line))
                    )
                for command in step.commands:
                    place = Place(step.workflow, command.line)
                    if _CLOUD_BUILD_CLI.search(command.text):
                        found.append((f"`{command.text}`", place))
                        continue
                    builds = builds or bool(_DOCKER_BUILD.search(command.text))
                    # A push after a build in the same job publishes what was just built.
                    if builds and _DOCKER_PUSH.search(command.text):
                        found.append((f"`{command.text}`", place))
    return found


@criterion(
    "cloud-build",
    title="Images built in the cloud",
    module="M21",
    fix="""
    Build your Docker images automatically: add a `cloudbuild.yaml` (with `steps:` that
    `docker build` and `docker push` to Artifact Registry) and a trigger in GCP, or a
    workflow job that runs `docker build` and `docker push` (or `docker/build-push-action`
    with `push: true`, or `gcloud builds submit`).
    """,
)
def cloud_build(snapshot: Snapshot, context: Context) -> Outcome:
    """Your Docker images are built and pushed automatically, not from a laptop.

    Automatic builds (Cloud Build or a GitHub Actions job) make every image traceable to a
    commit and ready to deploy. This looks for `cloudbuild*.yaml` files and for workflow jobs
    that build and push images.
    """
    evidence: list[tuple[str, Place]] = []
    annotations: list[Annotation] = []
    for path in _special_files(snapshot)["cloudbuild"]:
        count, problem = _cloudbuild_config(snapshot, path)
        if problem is None:
            evidence.append(
                (f"Cloud Build config with {count} step{'s' * (count != 1)}", Place(path, 1))
            )
        else:
            annotations.append(
                Annotation(
                    path=path,
                    start_line=problem.line,
                    end_line=problem.line,
                    level=Level.warning,
                    title="Cloud Build cannot use this file",
                    message=f"{problem.message}.",
                )
            )
    evidence += _workflow_builds(snapshot)
    metrics = {"builds": len(evidence)}
    details = "\n".join(f"- {what} at {p.path}:{p.line}" for what, p in evidence)
    if not evidence:
        broken = (
            f" ({len(annotations)} Cloud Build file(s) could not be used)" if annotations else ""
        )
        return failed(
            f"No automatic image build found{broken}: no valid `cloudbuild.yaml`, and no "
            "workflow job that builds and pushes a Docker image.",
            metrics=metrics,
            annotations=annotations,
        )
    shown = "; ".join(f"{what} ({p.path}:{p.line})" for what, p in evidence[:3])
    return passed(
        f"Images are built automatically: {shown}.",
        details=details,
        metrics=metrics,
        annotations=annotations,
    )


# -- api ---------------------------------------------------------------------------------------

_APP = re.compile(
    r"(?P<fastapi>\bFastAPI\s*\()|(?P<bentoml>^[ \t]*@bentoml\.service\b|\bbentoml\.Service\s*\()",
    re.M,
)
_TEST_PATH = re.compile(r"(?:^|/)(?:tests?/|conftest\.py\Z|test_[^/]*\.py\Z|[^/]*_test\.py\Z)")


def _apps(snapshot: Snapshot) -> list[tuple[str, Place]]:
    """Where a FastAPI app or a BentoML service is created, outside the tests."""
    found: list[tuple[str, Place]] = []
    for path in _files_importing(snapshot, "fastapi", "bentoml"):
        text = snapshot.text(path)
        if text is None or _TEST_PATH.search(path):
            continue
        for match in _APP.finditer(text):
            kind = "FastAPI" if match.lastgroup == "fastapi" else "BentoML"
            found.append((kind, Place(path, _line_of(text, match.start()))))
    return found


@criterion(
    "api",
    title="Model served by an API",
    module="M22",
    fix="""
    Serve your model with an API: create `src/<project>/api.py` with `app = FastAPI()` and an
    endpoint such as `@app.post("/predict")` that loads the model and returns predictions,
    then run it with `uvicorn`.
    """,
)
def api(snapshot: Snapshot, context: Context) -> Outcome:
    """Your model is served by an API application (FastAPI or BentoML).

    An API is how other programs (a frontend, another service, a user with `curl`) use your
    model. This finds where a FastAPI app or a BentoML service is created.
    """
    apps = _apps(snapshot)
    if apps:
        kinds = sorted({kind for kind, _ in apps})
        label = {"FastAPI": "FastAPI app", "BentoML": "BentoML service"}
        return passed(
            f"{' and '.join(label[k] for k in kinds)} in {cite(p for _, p in apps)}.",
            details="\n".join(f"- {label[kind]} at {p.path}:{p.line}" for kind, p in apps),
            metrics={"apps": len(apps), "frameworks": kinds},
        )
    places = [p for p in imported(snapshot, "fastapi", "bentoml") if not _TEST_PATH.search(p.path)]
    if places:
        return failed(
            f"FastAPI or BentoML is imported ({cite(places)}) but no app is created: no "
            "`FastAPI(...)` or `@bentoml.service` found.",
            metrics={"apps": 0, "frameworks": []},
        )
    return failed(
        "No API found: no FastAPI app (`FastAPI()`) or BentoML service.",
        metrics={"apps": 0, "frameworks": []},
    )


# -- api-tests ---------------------------------------------------------------------------------

_API_CLIENT = re.compile(
    r"(?P<client>\bTestClient\s*\(|\bASGITransport\s*\(|\bAsyncClient\s*\([^)]*\bapp\s*="
    r"|\b(?:Sync|Async)HTTPClient\s*\()"
    r"|(?P<http>\b(?:requests|httpx)\.(?:get|post|put|patch|delete|request)\s*\()"
)


@criterion(
    "api-tests",
    title="API tests",
    module="M24",
    requires=("api",),
    fix="""
    Test your API in `tests/`: `from fastapi.testclient import TestClient`, then
    `client = TestClient(app)` and assert on `client.get("/")` or `client.post("/predict", ...)`
    (status code and response body).
    """,
)
def api_tests(snapshot: Snapshot, context: Context) -> Outcome:
    """Your tests call the API, as a client would.

    Unit tests of the model do not catch a wrong route, a broken request schema or a crash
    when loading the model at start-up; API tests do. This looks in the test code for
    FastAPI's `TestClient`, an httpx client on the app, or HTTP requests to the service.
    """
    counts = {f.path: len(f.tests) for f in suite_files(snapshot)}
    evidence: list[tuple[str, Place]] = []
    for path in snapshot.python_files:
        if not _TEST_PATH.search(path):
            continue
        text = snapshot.text(path)
        match = _API_CLIENT.search(text) if text else None
        if match is not None and text is not None:
            call = match.group(0).rstrip("( ")
            evidence.append((call, Place(path, _line_of(text, match.start()))))
    if not evidence:
        return failed(
            "No test calls the API (no `TestClient(app)`, httpx client on the app, or HTTP "
            "request in the test files).",
            metrics={"files": 0, "tests": 0},
        )
    tested = sum(counts.get(p.path, 0) for _, p in evidence)
    described = "; ".join(
        f"`{call}` in {p.path}:{p.line}"
        + (f" ({counts[p.path]} test{'s' * (counts[p.path] != 1)})" if counts.get(p.path) else "")
        for call, p in evidence[:3]
    )
    return passed(
        f"API tested: {described}.",
        details="\n".join(f"- `{call}` at {p.path}:{p.line}" for call, p in evidence),
        metrics={"files": len(evidence), "tests": tested},
    )


# -- load-test ---------------------------------------------------------------------------------

_USER_CLASS = re.compile(r"^class\s+(\w+)\s*\([^)]*\b(?:HttpUser|FastHttpUser|User)\b", re.M)


@criterion(
    "load-test",
    title="Load testing",
    module="M24",
    fix="""
    Write a `locustfile.py` with a class extending `locust.HttpUser` and `@task` methods that
    call your API, then run `locust -f locustfile.py --headless --users 10 --host <url>` to see
    how many requests per second it handles.
    """,
)
def load_test(snapshot: Snapshot, context: Context) -> Outcome:
    """A load test (locust) measures how your API copes with many users at once.

    A deployed model must answer many requests, fast; a load test finds the limit before
    your users do.
    """
    paths = list(
        dict.fromkeys(_special_files(snapshot)["locustfile"] + _files_importing(snapshot, "locust"))
    )
    evidence: list[tuple[str, Place]] = []
    for path in paths:
        text = snapshot.text(path) or ""
        users = [(m.group(1), _line_of(text, m.start())) for m in _USER_CLASS.finditer(text)]
        if users:
            evidence += [(f"user class `{name}`", Place(path, line)) for name, line in users]
        else:
            evidence.append(("locustfile", Place(path, 1)))
    if not evidence:
        return failed(
            "No load test found: no `locustfile.py` and no file importing locust.",
            metrics={"files": 0},
        )
    return passed(
        "Load test: " + "; ".join(f"{what} in {p.path}:{p.line}" for what, p in evidence[:3]) + ".",
        details="\n".join(f"- {what} at {p.path}:{p.line}" for what, p in evidence),
        metrics={"files": len(paths)},
    )


# -- serving-opt, frontend, drift, monitoring ------------------------------------------------

_SERVING = (
    Library("ONNX", ("onnx",), ("onnx",)),
    Library("ONNX Runtime", ("onnxruntime",), ("onnxruntime", "onnxruntime-gpu")),
    Library("BentoML", ("bentoml",), ("bentoml",)),
)
_ONNX_EXPORT = re.compile(r"\bonnx\.(?:dynamo_)?export\s*\(|\bto_onnx\s*\(")


@criterion(
    "serving-opt",
    title="Optimised serving (ONNX or BentoML)",
    module="M25",
    fix="""
    Export your model to ONNX (`torch.onnx.export(model, example_input, "model.onnx")`) and
    serve it with `onnxruntime.InferenceSession`, or package it as a BentoML service.
    """,
)
def serving_opt(snapshot: Snapshot, context: Context) -> Outcome:
    """Your model is exported for fast, framework-free serving (ONNX) or served with BentoML.

    An exported model loads faster, needs no training code at inference time and runs on
    many runtimes. This looks for ONNX export, ONNX Runtime, ONNX model files and BentoML.
    """
    exports: list[tuple[str, Place]] = []
    for path in _files_importing(snapshot, "torch", "lightning", "pytorch_lightning"):
        text = snapshot.text(path)
        if text and "onnx" in text:
            exports += [
                ("ONNX export", Place(path, _line_of(text, m.start())))
                for m in _ONNX_EXPORT.finditer(text)
            ]
    exports += [("ONNX model file", Place(p, 1)) for p in _special_files(snapshot)["onnx"]]
    return _library_outcome(snapshot, _SERVING, "optimised serving", exports)


@criterion(
    "frontend",
    title="Frontend",
    module="M26",
    fix="""
    Give your API a small user interface: a Streamlit (`streamlit run frontend.py`) or Gradio
    app that sends the user's input to your API and shows the prediction.
    """,
)
def frontend(snapshot: Snapshot, context: Context) -> Outcome:
    """A frontend (Streamlit or Gradio) lets people try your model without writing code.

    This finds the files that import a frontend framework.
    """
    libraries = (
        Library("Streamlit", ("streamlit",), ("streamlit",)),
        Library("Gradio", ("gradio",), ("gradio",)),
    )
    return _library_outcome(snapshot, libraries, "frontend")


@criterion(
    "drift",
    title="Data drift detection",
    module="M27",
    fix="""
    Compare the data your deployed model receives with its training data: e.g. with Evidently,
    build a `Report` with the `DataDriftPreset` on a reference and a current dataset and look
    at which features drifted.
    """,
)
def drift(snapshot: Snapshot, context: Context) -> Outcome:
    """You check whether the data your model sees in production drifts from its training data.

    A model silently gets worse when the world changes; drift detection tells you when to
    retrain. This finds imports of drift detection libraries.
    """
    libraries = (
        Library("Evidently", ("evidently",), ("evidently",)),
        Library("Alibi Detect", ("alibi_detect",), ("alibi-detect",)),
        Library("NannyML", ("nannyml",), ("nannyml",)),
        Library("Deepchecks", ("deepchecks",), ("deepchecks",)),
        Library("TorchDrift", ("torchdrift",), ("torchdrift",)),
    )
    return _library_outcome(snapshot, libraries, "drift detection")


_GOOGLE_MONITORING = re.compile(
    r"google\.cloud\s+import\s+[^\n]*\bmonitoring|google\.cloud\.monitoring"
)


@criterion(
    "monitoring",
    title="System monitoring",
    module="M28",
    fix="""
    Expose metrics from your API: e.g. `prometheus_client` counters and histograms (requests,
    errors, latency) served on `/metrics`, or `prometheus-fastapi-instrumentator`, or
    OpenTelemetry, then scrape or view them in your cloud's monitoring.
    """,
)
def monitoring(snapshot: Snapshot, context: Context) -> Outcome:
    """Your deployed application reports metrics (requests, errors, latency) for monitoring.

    Without metrics you learn about an outage from your users. This finds Prometheus,
    OpenTelemetry or Google Cloud Monitoring client code.
    """
    libraries = (
        Library("prometheus_client", ("prometheus_client",), ("prometheus-client",)),
        Library(
            "prometheus-fastapi-instrumentator",
            ("prometheus_fastapi_instrumentator",),
            ("prometheus-fastapi-instrumentator",),
        ),
        Library("starlette-exporter", ("starlette_exporter",), ("starlette-exporter",)),
        Library(
            "OpenTelemetry",
            ("opentelemetry",),
            ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-distro"),
        ),
    )
    # `from google.cloud import monitoring_v3`: the import index only knows "google".
    google: list[tuple[str, Place]] = []
    for path in _files_importing(snapshot, "google"):
        text = snapshot.text(path) or ""
        if match := _GOOGLE_MONITORING.search(text):
            google.append(("Google Cloud Monitoring", Place(path, _line_of(text, match.start()))))
    return _library_outcome(snapshot, libraries, "monitoring", google)


# -- docs --------------------------------------------------------------------------------------

# Walking `nav` stops here: a hand-written navigation is far smaller, an alias bomb is not.
_NAV_NODE_BUDGET = 10_000


def _compose(text: str) -> tuple[yaml.Node | None, ParseError | None]:
    """The YAML node tree without constructing any value.

    MkDocs configs often hold `!!python/name:` and `!ENV` tags that the safe loader refuses
    to construct; composing reads the structure and never builds a Python object.
    """
    loader = SafeLoader(text)
    try:
        return loader.get_single_node(), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return None, ParseError(
            exc.problem or exc.context or "invalid YAML", mark.line + 1 if mark else 1
        )
    except yaml.YAMLError as exc:
        return None, ParseError(str(exc).splitlines()[0] if str(exc) else "invalid YAML")
    finally:
        loader.dispose()


def _top_level(node: yaml.MappingNode, key: str) -> tuple[yaml.Node | None, int]:
    for key_node, value in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value, key_node.start_mark.line + 1
    return None, 1


def _nav_pages(nav: yaml.Node | None) -> list[tuple[str, int]]:
    """Local Markdown pages named in `nav`, with their lines."""
    pages: list[tuple[str, int]] = []
    stack = [nav] if nav is not None else []
    budget = _NAV_NODE_BUDGET
    while stack and budget:
        node = stack.pop()
        budget -= 1
        if isinstance(node, yaml.ScalarNode):
            value = str(node.value).strip()
            if value.lower().endswith((".md", ".markdown")) and "://" not in value:
                pages.append((value, node.start_mark.line + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(value for _, value in reversed(node.value))
    return sorted(pages, key=lambda page: page[1])


def _mkdocs_config(snapshot: Snapshot) -> str | None:
    """The MkDocs config to judge: the root one, else the least nested (e.g. docs/mkdocs.yaml)."""
    configs = _special_files(snapshot)["mkdocs"]
    return min(configs, key=lambda p: (p.count("/"), p)) if configs else None


def _warning(path: str, line: int, title: str, message: str) -> Annotation:
    return Annotation(
        path=path, start_line=line, end_line=line, level=Level.warning, title=title, message=message
    )


@criterion(
    "docs",
    title="Documentation site",
    module="M32",
    fix="""
    Add an `mkdocs.yml` with `site_name:` and a `docs/` folder with at least an `index.md`
    (the course template keeps them in `docs/mkdocs.yaml` with `docs_dir: source`), then
    build it with `mkdocs build` and publish it with `mkdocs gh-deploy` or a workflow.
    """,
)
def docs(snapshot: Snapshot, context: Context) -> Outcome:
    """Your project has MkDocs documentation: a config and Markdown pages to build a site from.

    Good documentation lets others (and you, in three months) install, use and extend the
    project. This reads `mkdocs.yml` as data (tags such as `!!python/name:` are fine) and
    checks that its docs folder holds Markdown pages and that the `nav` pages exist.
    """
    config = _mkdocs_config(snapshot)
    if config is None:
        loose = [p for p in snapshot.under("docs") if p.lower().endswith(".md")]
        hint = (
            f" There are {len(loose)} Markdown files in docs/, but no config to build a site."
            if loose
            else ""
        )
        return failed(f"No MkDocs config (`mkdocs.yml`) found.{hint}", metrics={"pages": 0})
    text = snapshot.text(config)
    root, error = _compose(text) if text is not None else (None, ParseError("not a text file"))
    if error is not None or not isinstance(root, yaml.MappingNode):
        problem = error or ParseError("the file must be a mapping of settings such as `site_name`")
        return failed(
            f"`{config}` cannot be read by MkDocs: line {problem.line}: {problem.message}.",
            metrics={"pages": 0, "config": config},
            annotations=[
                _warning(config, problem.line, "Invalid MkDocs config", f"{problem.message}.")
            ],
        )
    annotations: list[Annotation] = []
    name_node, _ = _top_level(root, "site_name")
    site_name = str(name_node.value).strip() if isinstance(name_node, yaml.ScalarNode) else ""
    if not site_name:
        annotations.append(
            _warning(
                config, 1, "Missing site_name", "MkDocs refuses to build without `site_name:`."
            )
        )
    dir_node, dir_line = _top_level(root, "docs_dir")
    docs_dir = str(dir_node.value).strip() if isinstance(dir_node, yaml.ScalarNode) else "docs"
    folder = posixpath.normpath(posixpath.join(posixpath.dirname(config), docs_dir))
    inside = not posixpath.isabs(docs_dir) and folder != ".." and not folder.startswith("../")
    pages = (
        [p for p in snapshot.under(folder) if p.lower().endswith((".md", ".markdown"))]
        if inside
        else []
    )
    metrics = {"pages": len(pages), "config": config, "docs_dir": folder}
    if not pages:
        where = f"`{folder}/`" if inside else f"`{docs_dir}` (outside the repository)"
        annotations.append(
            _warning(
                config,
                dir_line,
                "No pages to build",
                f"The docs folder {where} has no Markdown pages.",
            )
        )
        return failed(
            f"`{config}` builds from {where}, which has no Markdown pages.",
            metrics=metrics,
            annotations=annotations,
        )
    nav, _ = _top_level(root, "nav")
    prefix = "" if folder == "." else folder + "/"
    for page, line in _nav_pages(nav):
        if not snapshot.is_file(posixpath.normpath(prefix + page.lstrip("/"))):
            annotations.append(
                _warning(
                    config,
                    line,
                    "Page missing",
                    f"`nav` lists `{page}`, but `{prefix}{page}` does not exist.",
                )
            )
    title = f' "{site_name}"' if site_name else ""
    summary = (
        f"MkDocs site{title} ({config}) with {len(pages)} page{'s' * (len(pages) != 1)} "
        f"in {folder}/."
    )
    if not site_name:
        return failed(
            f"{summary} But `site_name:` is missing.", metrics=metrics, annotations=annotations
        )
    return passed(summary, metrics=metrics, annotations=annotations)
