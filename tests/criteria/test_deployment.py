"""Deployment criteria: cloud-build, api, api-tests, load-test, serving-opt, frontend, drift,
monitoring and docs."""

from __future__ import annotations

import pytest

from checks.models import Level, Status

WF = ".github/workflows/docker.yaml"
API = """\
from fastapi import FastAPI

app = FastAPI(title="mnist")


@app.get("/")
def root():
    return {}
"""
PUSH_ACTION = "      - uses: docker/build-push-action@v6\n        with:\n          push: {}\n"


def job(*commands: str, uses: str = "") -> str:
    steps = "".join(f"      - run: {c}\n" for c in commands) + uses
    return f"on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n{steps}"


# -- cloud-build -------------------------------------------------------------------------------


def test_cloud_build_accepts_a_cloudbuild_config(run_criterion):
    config = "steps:\n  - name: gcr.io/cloud-builders/docker\n    args: [build, -t, x, .]\n"
    result = run_criterion("cloud-build", {"cloudbuild.yaml": config})
    assert result.status == Status.passed
    assert result.summary == (
        "Images are built automatically: Cloud Build config with 1 step (cloudbuild.yaml:1)."
    )


@pytest.mark.parametrize(
    ("workflow", "line"),
    [
        (job("docker build -t img .", "docker push img"), 7),
        (job("docker buildx build --push -t img ."), 6),
        (job("gcloud builds submit --config cloudbuild.yaml"), 6),
        (
            job(uses=PUSH_ACTION.format("true")),
            6,
        ),
    ],
)
def test_cloud_build_accepts_a_workflow_that_builds_and_pushes(run_criterion, workflow, line):
    result = run_criterion("cloud-build", {WF: workflow})
    assert result.status == Status.passed
    assert f"({WF}:{line})" in result.summary


@pytest.mark.parametrize(
    "workflow",
    [
        job("docker build -t img ."),
        job("docker push img", "docker build -t img ."),  # pushes before anything is built
        job(uses=PUSH_ACTION.format("false")),
    ],
)
def test_cloud_build_needs_a_build_and_a_push(run_criterion, workflow):
    result = run_criterion("cloud-build", {WF: workflow})
    assert result.status == Status.warn
    assert result.summary.startswith("No automatic image build found")


def test_cloud_build_annotates_an_unusable_config(run_criterion):
    result = run_criterion("cloud-build", {"cloudbuild.yaml": "steps:\n  - name: x\n bad: ["})
    assert result.status == Status.warn
    assert "1 Cloud Build file(s) could not be used" in result.summary
    [annotation] = result.annotations
    assert (annotation.path, annotation.level) == ("cloudbuild.yaml", Level.warning)
    assert annotation.start_line == 3

    empty = run_criterion("cloud-build", {"cloudbuild_api.yml": "timeout: 600s\n"})
    assert "non-empty `steps:`" in empty.annotations[0].message


# -- api ---------------------------------------------------------------------------------------


def test_api_finds_the_fastapi_app(run_criterion):
    result = run_criterion("api", {"src/proj/api.py": API})
    assert result.status == Status.passed
    assert result.summary == "FastAPI app in src/proj/api.py:3."
    assert result.metrics == {"apps": 1, "frameworks": ["FastAPI"]}


def test_api_finds_a_bentoml_service(run_criterion):
    service = (
        "import bentoml\n\n\n@bentoml.service(resources={'cpu': '1'})\nclass Model:\n    pass\n"
    )
    result = run_criterion("api", {"service.py": service})
    assert result.status == Status.passed
    assert result.summary == "BentoML service in service.py:4."


def test_api_fails_when_fastapi_is_imported_but_no_app_made(run_criterion):
    router = "from fastapi import APIRouter\n\nrouter = APIRouter()\n"
    result = run_criterion("api", {"src/proj/routes.py": router})
    assert result.status == Status.warn
    assert result.summary.startswith("FastAPI or BentoML is imported (src/proj/routes.py:1)")


def test_api_does_not_count_an_app_made_in_the_tests(run_criterion):
    result = run_criterion("api", {"tests/test_api.py": API})
    assert result.status == Status.warn
    assert result.summary == "No API found: no FastAPI app (`FastAPI()`) or BentoML service."


# -- api-tests ---------------------------------------------------------------------------------

API_TEST = """\
from fastapi.testclient import TestClient

from proj.api import app

client = TestClient(app)


def test_root():
    assert client.get("/").status_code == 200


def test_predict():
    assert client.post("/predict").status_code == 200
"""


def test_api_tests_finds_the_test_client(run_criterion):
    files = {"src/proj/api.py": API, "tests/integrationtests/test_apis.py": API_TEST}
    result = run_criterion("api-tests", files)
    assert result.status == Status.passed
    assert result.summary == (
        "API tested: `TestClient` in tests/integrationtests/test_apis.py:5 (2 tests)."
    )
    assert result.metrics == {"files": 1, "tests": 2}


@pytest.mark.parametrize(
    "code",
    [
        "transport = httpx.ASGITransport(app=app)",
        "client = httpx.AsyncClient(app=app, base_url='http://test')",
        "r = requests.get('http://localhost:8000/')",
    ],
)
def test_api_tests_finds_other_clients(run_criterion, code):
    files = {"src/proj/api.py": API, "tests/conftest.py": f"import httpx, requests\n{code}\n"}
    result = run_criterion("api-tests", files)
    assert result.status == Status.passed
    assert "tests/conftest.py:2" in result.summary


def test_api_tests_fails_without_client_calls(run_criterion):
    files = {"src/proj/api.py": API, "tests/test_model.py": "def test_model():\n    pass\n"}
    result = run_criterion("api-tests", files)
    assert result.status == Status.warn
    assert result.summary.startswith("No test calls the API")


def test_api_tests_is_skipped_without_an_api(run_criterion):
    result = run_criterion("api-tests", {"tests/test_api.py": API_TEST})
    assert result.status == Status.skip


# -- load-test ---------------------------------------------------------------------------------


def test_load_test_finds_the_locust_user(run_criterion):
    locust = """\
from locust import HttpUser, task


class ApiUser(HttpUser):
    @task
    def root(self):
        self.client.get("/")
"""
    result = run_criterion("load-test", {"tests/performancetests/locustfile.py": locust})
    assert result.status == Status.passed
    assert result.summary == (
        "Load test: user class `ApiUser` in tests/performancetests/locustfile.py:4."
    )


def test_load_test_accepts_any_file_importing_locust(run_criterion):
    result = run_criterion("load-test", {"load/run.py": "import locust\n"})
    assert result.status == Status.passed
    assert result.summary == "Load test: locustfile in load/run.py:1."


def test_load_test_fails_without_locust(run_criterion):
    result = run_criterion("load-test", {"src/app.py": "import requests\n"})
    assert result.status == Status.warn
    assert result.summary == "No load test found: no `locustfile.py` and no file importing locust."


# -- serving-opt, frontend, drift, monitoring ------------------------------------------------


def test_serving_opt_finds_onnx_export_runtime_and_models(run_criterion):
    export = """\
import torch

model = torch.nn.Linear(2, 2)
torch.onnx.export(model, torch.ones(2), "m.onnx")
"""
    files = {
        "src/export.py": export,
        "src/serve.py": "import onnxruntime as ort\n",
        "models/model.onnx": b"\x08\x07binary",
    }
    result = run_criterion("serving-opt", files)
    assert result.status == Status.passed
    assert result.summary == (
        "Optimised serving: ONNX Runtime in src/serve.py:1; "
        "ONNX export in src/export.py:4; ONNX model file in models/model.onnx:1."
    )


def test_serving_opt_distinguishes_declared_from_used(run_criterion):
    result = run_criterion("serving-opt", {"requirements.txt": "onnxruntime==1.20\ntorch\n"})
    assert result.status == Status.warn
    assert result.summary == (
        "Declared as a dependency but not imported by any Python file yet: "
        "ONNX Runtime (requirements.txt)."
    )


def test_frontend_finds_streamlit(run_criterion):
    result = run_criterion("frontend", {"frontend.py": "import os\nimport streamlit as st\n"})
    assert result.status == Status.passed
    assert result.summary == "Frontend: Streamlit in frontend.py:2."


def test_frontend_fails_without_one(run_criterion):
    result = run_criterion("frontend", {"app.py": "import flask\n"})
    assert result.status == Status.warn
    assert result.summary == "No frontend found: none of Streamlit, Gradio is imported."


@pytest.mark.parametrize(
    ("line", "library"),
    [
        ("from evidently.presets import DataDriftPreset", "Evidently"),
        ("from alibi_detect.cd import KSDrift", "Alibi Detect"),
        ("import nannyml as nml", "NannyML"),
        ("from deepchecks.tabular import Suite", "Deepchecks"),
        ("import torchdrift", "TorchDrift"),
    ],
)
def test_drift_finds_each_library(run_criterion, line, library):
    result = run_criterion("drift", {"src/drift.py": f'"""Drift."""\n{line}\n'})
    assert result.status == Status.passed
    assert result.summary == f"Drift detection: {library} in src/drift.py:2."


def test_drift_fails_on_an_empty_repository(run_criterion):
    result = run_criterion("drift", {})
    assert result.status == Status.warn
    assert result.summary.startswith("No drift detection found")


@pytest.mark.parametrize(
    ("line", "library"),
    [
        ("from prometheus_client import Counter", "prometheus_client"),
        (
            "from prometheus_fastapi_instrumentator import Instrumentator",
            "prometheus-fastapi-instrumentator",
        ),
        ("from opentelemetry import trace", "OpenTelemetry"),
        ("from google.cloud import monitoring_v3", "Google Cloud Monitoring"),
    ],
)
def test_monitoring_finds_metrics_clients(run_criterion, line, library):
    result = run_criterion("monitoring", {"src/api.py": f"import os\n{line}\n"})
    assert result.status == Status.passed
    assert result.summary == f"Monitoring: {library} in src/api.py:2."


def test_monitoring_ignores_other_google_libraries(run_criterion):
    result = run_criterion("monitoring", {"src/gcs.py": "from google.cloud import storage\n"})
    assert result.status == Status.warn


# -- docs --------------------------------------------------------------------------------------

MKDOCS = """\
site_name: mnist
docs_dir: source
theme:
  name: material
markdown_extensions:
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
      emoji_generator: !!python/name:material.extensions.emoji.to_svg
nav:
  - Home: index.md
  - Reference:
      - API: api.md
      - Missing: reference/missing.md
  - GitHub: https://github.com/x/y
"""


def test_docs_reads_the_template_layout_with_python_tags(run_criterion):
    files = {
        "docs/mkdocs.yaml": MKDOCS,
        "docs/source/index.md": "# Home\n",
        "docs/source/api.md": "::: proj.api\n",
    }
    result = run_criterion("docs", files)
    assert result.status == Status.passed
    assert result.summary == 'MkDocs site "mnist" (docs/mkdocs.yaml) with 2 pages in docs/source/.'
    [annotation] = result.annotations
    assert (annotation.path, annotation.start_line, annotation.level) == (
        "docs/mkdocs.yaml",
        13,
        Level.warning,
    )
    assert "docs/source/reference/missing.md" in annotation.message


def test_docs_defaults_to_the_docs_folder(run_criterion):
    result = run_criterion("docs", {"mkdocs.yml": "site_name: x\n", "docs/index.md": "# x\n"})
    assert result.status == Status.passed
    assert result.metrics["docs_dir"] == "docs"


def test_docs_fails_without_a_config_but_mentions_loose_pages(run_criterion):
    result = run_criterion("docs", {"docs/index.md": "# x\n"})
    assert result.status == Status.warn
    assert result.summary == (
        "No MkDocs config (`mkdocs.yml`) found. There are 1 Markdown files in docs/, "
        "but no config to build a site."
    )


def test_docs_fails_when_the_docs_folder_has_no_pages(run_criterion):
    result = run_criterion("docs", {"mkdocs.yml": "site_name: x\ndocs_dir: site_src\n"})
    assert result.status == Status.warn
    assert result.summary == "`mkdocs.yml` builds from `site_src/`, which has no Markdown pages."
    assert result.annotations[0].start_line == 2


def test_docs_refuses_a_docs_dir_outside_the_repository(run_criterion):
    result = run_criterion("docs", {"mkdocs.yml": "site_name: x\ndocs_dir: ../../etc\n"})
    assert result.status == Status.warn
    assert "outside the repository" in result.summary


def test_docs_requires_a_site_name(run_criterion):
    result = run_criterion("docs", {"mkdocs.yml": "theme: material\n", "docs/index.md": "# x"})
    assert result.status == Status.warn
    assert result.summary.endswith("But `site_name:` is missing.")
    assert result.annotations[0].title == "Missing site_name"


@pytest.mark.parametrize(
    ("text", "line"),
    [("site_name: x\nnav:\n  - a: [\n", 4), (b"\x00\x00binary", 1), ("- a\n- b\n", 1)],
)
def test_docs_annotates_an_unreadable_config(run_criterion, text, line):
    result = run_criterion("docs", {"mkdocs.yml": text, "docs/index.md": "# x"})
    assert result.status == Status.warn
    assert result.summary.startswith("`mkdocs.yml` cannot be read by MkDocs")
    assert result.annotations[0].start_line == line
