"""The fake GitHub is only useful if it refuses what GitHub refuses: these tests pin that."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.github.fake_github import FakeGitHub, check_run_errors
from tests.github.github_helpers import APP_ID, INSTALLATION, OWNER, REPO


@pytest.fixture
def http(fake_github: FakeGitHub) -> httpx.Client:
    fake_github.add_commit(OWNER, REPO, "a" * 40, b"archive", installation=INSTALLATION)
    with httpx.Client(base_url=fake_github.url) as client:
        yield client


def app_jwt(key: str, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode(
        {"iss": str(APP_ID), "iat": now - 60, "exp": now + 540, **claims}, key, algorithm="RS256"
    )


def token(http: httpx.Client, key: str) -> str:
    response = http.post(
        f"/app/installations/{INSTALLATION}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt(key)}"},
    )
    assert response.status_code == 201
    assert time.strptime(response.json()["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    return response.json()["token"]


def other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "999"},
        {"exp": int(time.time()) - 10},
        {"iat": int(time.time()) + 600, "exp": int(time.time()) + 900},
        {"exp": int(time.time()) + 3600},
    ],
)
def test_token_endpoint_checks_the_app_jwt(http: httpx.Client, rsa_key, claims) -> None:
    response = http.post(
        f"/app/installations/{INSTALLATION}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt(rsa_key[0], **claims)}"},
    )
    assert response.status_code == 401


def test_token_endpoint_refuses_another_key_and_unknown_installations(
    http: httpx.Client, rsa_key
) -> None:
    url = f"/app/installations/{INSTALLATION}/access_tokens"
    wrong = http.post(url, headers={"Authorization": f"Bearer {app_jwt(other_key())}"})
    assert wrong.status_code == 401
    unknown = http.post(
        "/app/installations/9999/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt(rsa_key[0])}"},
    )
    assert unknown.status_code == 404


def test_check_runs_need_a_valid_unexpired_installation_token(
    http: httpx.Client, fake_github: FakeGitHub, rsa_key
) -> None:
    body = {"name": "n", "head_sha": "a" * 40}
    url = f"/repos/{OWNER}/{REPO}/check-runs"
    assert http.post(url, json=body).status_code == 401
    made_up = {"Authorization": "token ghs_made_up"}
    assert http.post(url, json=body, headers=made_up).status_code == 401
    value = token(http, rsa_key[0])
    auth = {"Authorization": f"token {value}"}
    assert http.post(url, json=body, headers=auth).status_code == 201
    other_repo = http.post(f"/repos/{OWNER}/elsewhere/check-runs", json=body, headers=auth)
    assert other_repo.status_code == 404
    fake_github.expire_tokens()
    assert http.post(url, json=body, headers=auth).status_code == 401
    # Credentials are recorded as labels, never as values.
    assert all(value not in str(call) for call in fake_github.calls)


def test_check_runs_of_a_commit_are_listed_like_github(http: httpx.Client, rsa_key) -> None:
    auth = {"Authorization": f"token {token(http, rsa_key[0])}"}
    runs = f"/repos/{OWNER}/{REPO}/check-runs"
    first = http.post(runs, json={"name": "Mentor", "head_sha": "a" * 40, "external_id": "d-1"},
                      headers=auth).json()  # fmt: skip
    second = http.post(runs, json={"name": "Mentor", "head_sha": "a" * 40, "external_id": "d-2"},
                       headers=auth).json()  # fmt: skip
    http.post(runs, json={"name": "Other", "head_sha": "a" * 40}, headers=auth)
    url = f"/repos/{OWNER}/{REPO}/commits/{'a' * 40}/check-runs"

    everything = http.get(url, params={"check_name": "Mentor", "filter": "all"}, headers=auth)
    assert everything.status_code == 200
    assert everything.json()["total_count"] == 2
    assert [r["id"] for r in everything.json()["check_runs"]] == [second["id"], first["id"]]
    assert [r["external_id"] for r in everything.json()["check_runs"]] == ["d-2", "d-1"]
    # GitHub's default filter keeps the newest run of each name.
    latest = http.get(url, headers=auth).json()["check_runs"]
    assert sorted(r["name"] for r in latest) == ["Mentor", "Other"]
    assert http.get(url, params={"filter": "newest"}, headers=auth).status_code == 422
    assert http.get(url, params={"status": "done"}, headers=auth).status_code == 422
    unknown = http.get(f"/repos/{OWNER}/{REPO}/commits/{'f' * 40}/check-runs", headers=auth)
    assert unknown.status_code == 422
    assert http.get(url).status_code == 401


ANNOTATION = {
    "path": "a.py",
    "start_line": 1,
    "end_line": 1,
    "annotation_level": "warning",
    "message": "m",
}


def annotated(**change: Any) -> dict[str, Any]:
    """An update body with one annotation, changed as given."""
    return {"output": {"title": "t", "summary": "s", "annotations": [{**ANNOTATION, **change}]}}


@pytest.mark.parametrize(
    ("body", "create", "error"),
    [
        ({"head_sha": "a"}, True, "name is required"),
        ({"name": "n"}, True, "head_sha is required"),
        ({"status": "done"}, False, "status 'done' is invalid"),
        ({"conclusion": "passed"}, False, "conclusion 'passed' is invalid"),
        ({"status": "completed"}, False, "conclusion is required"),
        ({"output": {"summary": "s"}}, False, "output.title is required"),
        ({"output": {"title": "t"}}, False, "output.summary is required"),
        ({"output": {"title": "t", "summary": "s" * 65_536}}, False, "output.summary is longer"),
        ({"output": {"title": "t", "summary": "s", "text": "x" * 65_536}}, False, "output.text"),
        ({"output": {"title": "t", "summary": "s", "sumary": "typo"}}, False, "unknown keys"),
        (
            {"output": {"title": "t", "summary": "s", "annotations": [ANNOTATION] * 51}},
            False,
            "more than 50",
        ),
        (
            annotated(start_line=0),
            False,
            "start_line must be >= 1",
        ),
        (
            annotated(end_line=0, start_line=2),
            False,
            "end_line is before start_line",
        ),
        (
            annotated(annotation_level="error"),
            False,
            "annotation_level is invalid",
        ),
        (
            annotated(title="t" * 256),
            False,
            "title is over 255",
        ),
        (
            annotated(message="m" * 70_000),
            False,
            "message is over 64 KB",
        ),
        (
            annotated(end_line=2, start_column=1),
            False,
            "columns are only allowed",
        ),
    ],
)
def test_bodies_github_refuses_are_refused(body: dict, create: bool, error: str) -> None:
    errors = check_run_errors(body, create=create)
    assert any(error in e for e in errors), errors


def test_refusals_use_githubs_error_shape(
    http: httpx.Client, fake_github: FakeGitHub, rsa_key
) -> None:
    value = token(http, rsa_key[0])
    response = http.post(
        f"/repos/{OWNER}/{REPO}/check-runs",
        json={"name": "n"},
        headers={"Authorization": f"token {value}"},
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("Invalid request.")
    assert response.json()["documentation_url"].startswith("https://docs.github.com/")


def test_tarball_redirects_to_a_one_off_download(http: httpx.Client, rsa_key) -> None:
    auth = {"Authorization": f"token {token(http, rsa_key[0])}"}
    found = http.get(f"/repos/{OWNER}/{REPO}/tarball/{'a' * 40}", headers=auth)
    assert found.status_code == 302
    assert http.get(found.headers["Location"]).content == b"archive"
    missing = http.get(f"/repos/{OWNER}/{REPO}/tarball/{'b' * 40}", headers=auth)
    assert missing.status_code == 404
    assert http.get(f"/_codeload/{OWNER}/{REPO}/legacy.tar.gz/{'a' * 40}").status_code == 404


def test_faults_can_be_injected(http: httpx.Client, fake_github: FakeGitHub) -> None:
    fake_github.fail_next(
        "GET", r"/repos/.*/tarball/.*", 503, headers={"Retry-After": "1"}, times=2
    )
    path = f"/repos/{OWNER}/{REPO}/tarball/{'a' * 40}"
    first, second, third = (http.get(path) for _ in range(3))
    assert (first.status_code, second.status_code) == (503, 503)
    assert first.headers["Retry-After"] == "1"
    assert third.status_code == 401  # back to normal: no token was sent
    assert [c.status for c in fake_github.calls_to("GET", r"/repos/.*")] == [503, 503, 401]


def test_a_held_request_gets_no_answer_and_is_applied_only_when_asked(
    http: httpx.Client, fake_github: FakeGitHub, rsa_key
) -> None:
    auth = {"Authorization": f"token {token(http, rsa_key[0])}"}
    runs = f"/repos/{OWNER}/{REPO}/check-runs"
    lost = fake_github.hold_next("POST", r"/repos/.*/check-runs")
    with pytest.raises(httpx.ReadTimeout):
        http.post(runs, json={"name": "n", "head_sha": "a" * 40}, headers=auth, timeout=0.5)
    assert lost.wait(timeout=1).method == "POST"
    assert fake_github.check_runs == {}  # it never reached "GitHub"

    run_id = http.post(runs, json={"name": "n", "head_sha": "a" * 40}, headers=auth).json()["id"]
    done = fake_github.hold_next(
        "PATCH", r"/repos/.*/check-runs/\d+", applied=True,
        when=lambda body: body.get("status") == "completed",
    )  # fmt: skip
    # Only the request `when` picks is held.
    in_progress = {"status": "in_progress"}
    assert http.patch(f"{runs}/{run_id}", json=in_progress, headers=auth).status_code == 200
    completed = {"status": "completed", "conclusion": "success"}
    with pytest.raises(httpx.ReadTimeout):
        http.patch(f"{runs}/{run_id}", json=completed, headers=auth, timeout=0.5)
    assert done.wait(timeout=1).json["status"] == "completed"
    # Applied on "GitHub"; only the answer was lost.
    assert fake_github.check_runs[run_id].status == "completed"


def test_contents_branches_and_repository_listing_behave_like_github(
    http: httpx.Client, fake_github: FakeGitHub, rsa_key
) -> None:
    fake_github.add_file(OWNER, ".github", "mlops-mentor.yml", b"branches: [main]\n",
                         installation=INSTALLATION)  # fmt: skip
    fake_github.add_repository(OWNER, REPO, repository_id=7, installation=INSTALLATION,
                               head="a" * 40)  # fmt: skip
    fake_github.add_repository("someone-else", "theirs", repository_id=8, installation=5)
    auth = {"Authorization": f"token {token(http, rsa_key[0])}"}

    found = http.get(f"/repos/{OWNER}/.github/contents/mlops-mentor.yml", headers=auth)
    assert found.status_code == 200
    body = found.json()
    assert (body["type"], body["encoding"], body["size"]) == ("file", "base64", 17)
    assert base64.b64decode(body["content"]) == b"branches: [main]\n"
    # Unknown ref or path, someone else's repository, no token: as GitHub answers.
    assert http.get(f"/repos/{OWNER}/.github/contents/mlops-mentor.yml", params={"ref": "b" * 40},
                    headers=auth).status_code == 404  # fmt: skip
    assert http.get(f"/repos/{OWNER}/.github/contents/other.yml", headers=auth).status_code == 404
    assert http.get("/repos/someone-else/theirs/branches/main", headers=auth).status_code == 404
    assert http.get(f"/repos/{OWNER}/.github/contents/mlops-mentor.yml").status_code == 401

    assert http.get(f"/repos/{OWNER}/{REPO}/branches/main", headers=auth).json()["commit"] == {
        "sha": "a" * 40
    }
    assert http.get(f"/repos/{OWNER}/{REPO}/branches/nope", headers=auth).status_code == 404
    listed = http.get("/installation/repositories", headers=auth).json()
    assert listed["total_count"] == 1
    assert [r["full_name"] for r in listed["repositories"]] == [f"{OWNER}/{REPO}"]
    bad_page = http.get("/installation/repositories", params={"page": "0"}, headers=auth)
    assert bad_page.status_code == 422
    assert http.get("/installation/repositories").status_code == 401
