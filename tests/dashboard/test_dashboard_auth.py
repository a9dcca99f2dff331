"""Who gets in: the admin token (header or login form), GitHub sign-in for course staff
against a fake GitHub over real loopback HTTP, and nobody else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from github_app.dashboard import DashboardSettings
from github_app.dashboard.auth import CSRF_COOKIE, OAUTH_COOKIE, SESSION_COOKIE
from github_app.settings import SettingsError
from tests.dashboard.conftest import ADMIN_TOKEN, SECRET_KEY
from tests.dashboard.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeGitHubOAuth, FakeUser, serve

USERS = {
    "prof": FakeUser("prof", orgs={"dtu-mlops": ("admin", "active")}),
    "ta-anna": FakeUser(
        "ta-anna", orgs={"dtu-mlops": ("member", "active")}, teams={"dtu-mlops/teachers": "active"}
    ),
    "outsider": FakeUser("outsider", orgs={"other-org": ("admin", "active")}),
    "student-sam": FakeUser("student-sam", orgs={"dtu-mlops": ("member", "active")}),
    "invited-ida": FakeUser(
        "invited-ida",
        orgs={"dtu-mlops": ("member", "active")},
        teams={"dtu-mlops/teachers": "pending"},
    ),
}


def csrf(client: FlaskClient) -> str:
    """The CSRF token of the login form, as a browser would read it from the page."""
    page = client.get("/dashboard/login").get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


# --- The admin token --------------------------------------------------------------------


def test_without_a_session_every_page_redirects_to_the_login_page(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app().test_client()
    for path in (
        "/dashboard/",
        "/dashboard/groups/101",
        "/dashboard/runs/1",
        "/dashboard/export.csv",
    ):
        response = client.get(path)
        assert response.status_code == 302
        assert response.location.startswith("/dashboard/login?next=")
    login = client.get("/dashboard/login")
    assert login.status_code == 200
    assert "Admin token" in login.get_data(as_text=True)
    assert "Sign in with GitHub" not in login.get_data(as_text=True)


def test_the_admin_bearer_token_opens_every_page(admin: FlaskClient) -> None:
    for path in ("/dashboard/", "/dashboard/groups/101", "/dashboard/export.json"):
        assert admin.get(path).status_code == 200


def test_a_wrong_bearer_token_is_refused_with_401(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for header in (f"Bearer {ADMIN_TOKEN}x", "Bearer ", f"Basic {ADMIN_TOKEN}"):
        response = client.get("/dashboard/", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert ADMIN_TOKEN not in response.get_data(as_text=True)


def test_the_login_form_signs_in_with_the_token_and_sign_out_ends_the_session(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app().test_client()
    token = csrf(client)
    wrong = client.post("/dashboard/login", data={"csrf_token": token, "token": "nope"})
    assert wrong.status_code == 401
    assert "That is not the admin token." in wrong.get_data(as_text=True)
    assert client.get_cookie(SESSION_COOKIE, path="/dashboard") is None

    response = client.post(
        "/dashboard/login",
        data={"csrf_token": token, "token": ADMIN_TOKEN, "next": "/dashboard/groups/101"},
    )
    assert response.status_code == 302
    assert response.location == "/dashboard/groups/101"
    cookie = client.get_cookie(SESSION_COOKIE, path="/dashboard")
    assert cookie is not None and ADMIN_TOKEN not in cookie.value
    header = next(h for h in response.headers.getlist("Set-Cookie") if SESSION_COOKIE in h)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/dashboard" in header
    # Plain http in the test client: not Secure (it is behind https, see the next test).
    assert "Secure" not in header
    page = client.get("/dashboard/groups/101")
    assert page.status_code == 200
    assert "Sign out" in page.get_data(as_text=True)

    # Signing out is a POST with the CSRF token; without it nothing happens.
    assert client.post("/dashboard/logout").status_code == 400
    assert client.get("/dashboard/").status_code == 200
    out = client.post("/dashboard/logout", data={"csrf_token": token})
    assert out.status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_cookies_are_secure_over_https(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    page = client.get("/dashboard/login", base_url="https://mentor.example")
    header = next(h for h in page.headers.getlist("Set-Cookie") if CSRF_COOKIE in h)
    assert "Secure" in header and "HttpOnly" in header


def test_the_login_form_needs_its_csrf_token(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    csrf(client)
    for token in ("", "forged-token"):
        response = client.post("/dashboard/login", data={"csrf_token": token, "token": ADMIN_TOKEN})
        assert response.status_code == 400
        assert client.get_cookie(SESSION_COOKIE, path="/dashboard") is None


def test_a_forged_or_foreign_session_cookie_is_ignored(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    client.set_cookie(SESSION_COOKIE, '{"login": "admin", "via": "token"}', path="/dashboard")
    assert client.get("/dashboard/").status_code == 302
    # A session signed by an app with another admin token (rotation signs everyone out).
    other = make_app(admin_token="another-admin-token-0123456789").test_client()
    token = csrf(other)
    other.post(
        "/dashboard/login", data={"csrf_token": token, "token": "another-admin-token-0123456789"}
    )
    stolen = other.get_cookie(SESSION_COOKIE, path="/dashboard")
    assert stolen is not None
    client.set_cookie(SESSION_COOKIE, stolen.value, path="/dashboard")
    assert client.get("/dashboard/").status_code == 302


def test_after_login_only_dashboard_paths_are_followed(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    token = csrf(client)
    for target in ("https://evil.example/", "//evil.example/dashboard/", "/dashboard\\..\\x"):
        response = client.post(
            "/dashboard/login", data={"csrf_token": token, "token": ADMIN_TOKEN, "next": target}
        )
        assert response.location == "/dashboard/"


def test_pages_are_never_cached_framed_or_scripted(admin: FlaskClient) -> None:
    response = admin.get("/dashboard/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default 'none'
    assert response.headers["X-Frame-Options"] == "DENY"


# --- Settings ---------------------------------------------------------------------------


def test_settings_from_the_environment_name_the_variable_never_the_value() -> None:
    settings = DashboardSettings.from_env(
        {
            "MLOPS_MENTOR_ADMIN_TOKEN": ADMIN_TOKEN,
            "GITHUB_CLIENT_ID": CLIENT_ID,
            "GITHUB_CLIENT_SECRET": CLIENT_SECRET,
            "MLOPS_MENTOR_SECRET_KEY": SECRET_KEY,
            "MLOPS_MENTOR_STAFF_TEAM": "dtu-mlops/teachers",
            "GITHUB_URL": "https://github.example/",
        }
    )
    assert settings.oauth_enabled and settings.staff_org == "dtu-mlops"
    assert settings.github_url == "https://github.example"
    assert ADMIN_TOKEN not in repr(settings) and CLIENT_SECRET not in repr(settings)
    assert set(settings.secrets()) == {ADMIN_TOKEN, CLIENT_SECRET, SECRET_KEY}

    cases = {
        "MLOPS_MENTOR_ADMIN_TOKEN": ({"MLOPS_MENTOR_ADMIN_TOKEN": "short"}, "short"),
        "MLOPS_MENTOR_STAFF_TEAM": ({"MLOPS_MENTOR_STAFF_TEAM": "no-slash"}, "no-slash"),
        "MLOPS_MENTOR_TIMEZONE": ({"MLOPS_MENTOR_TIMEZONE": "Mars/Olympus"}, "Mars/Olympus"),
        "MLOPS_MENTOR_SECRET_KEY": (
            {
                "GITHUB_CLIENT_ID": CLIENT_ID,
                "GITHUB_CLIENT_SECRET": CLIENT_SECRET,
                "MLOPS_MENTOR_COURSE_ORG": "dtu-mlops",
            },
            CLIENT_SECRET,
        ),
        "MLOPS_MENTOR_COURSE_ORG or MLOPS_MENTOR_STAFF_TEAM": (
            {
                "GITHUB_CLIENT_ID": CLIENT_ID,
                "GITHUB_CLIENT_SECRET": CLIENT_SECRET,
                "MLOPS_MENTOR_SECRET_KEY": SECRET_KEY,
            },
            CLIENT_SECRET,
        ),
        "GITHUB_CLIENT_SECRET": ({"GITHUB_CLIENT_ID": CLIENT_ID}, CLIENT_ID),
    }
    for variable, (env, value) in cases.items():
        with pytest.raises(SettingsError) as caught:
            DashboardSettings.from_env(env)
        assert variable in str(caught.value)
        assert value not in str(caught.value)


def test_without_any_sign_in_method_the_login_page_says_what_to_set(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(admin_token=None).test_client()
    page = client.get("/dashboard/login").get_data(as_text=True)
    assert "No way to sign in is configured" in page and "MLOPS_MENTOR_ADMIN_TOKEN" in page
    assert client.get("/dashboard/login/github").status_code == 404


# --- GitHub sign-in -------------------------------------------------------------------------


@pytest.fixture
def github() -> Iterator[FakeGitHubOAuth]:
    fake = FakeGitHubOAuth(users=USERS)
    with serve(fake) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def oauth_client(make_app: Callable[..., Flask], github: FakeGitHubOAuth) -> FlaskClient:
    app = make_app(
        admin_token=None,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key=SECRET_KEY,
        staff_team="dtu-mlops/teachers",
        github_url=github.base_url,
        api_url=github.api_url,
    )
    return app.test_client()


def sign_in(client: FlaskClient, github: FakeGitHubOAuth, login: str) -> httpx.URL:
    """Start at the dashboard, go through the fake GitHub's authorize page as `login`, and
    return the callback URL GitHub redirects the browser to."""
    github.signed_in_as = login
    start = client.get("/dashboard/login/github?next=/dashboard/groups/101")
    assert start.status_code == 302
    authorize = httpx.URL(start.location)
    assert str(authorize).startswith(f"{github.base_url}/login/oauth/authorize?")
    query = dict(authorize.params)
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "http://localhost/dashboard/login/callback"
    assert len(query["state"]) >= 32
    approved = httpx.get(authorize, follow_redirects=False)
    assert approved.status_code == 302
    return httpx.URL(approved.headers["Location"])


def follow(client: FlaskClient, url: httpx.URL) -> object:
    return client.get(url.path, query_string=url.query.decode())


def test_an_owner_of_the_course_organisation_is_let_in(
    oauth_client: FlaskClient, github: FakeGitHubOAuth
) -> None:
    page = oauth_client.get("/dashboard/login").get_data(as_text=True)
    assert "Sign in with GitHub" in page and "Admin token" not in page
    response = follow(oauth_client, sign_in(oauth_client, github, "prof"))
    assert response.status_code == 302
    assert response.location == "/dashboard/groups/101"
    assert oauth_client.get_cookie(OAUTH_COOKIE, path="/dashboard") is None
    group = oauth_client.get("/dashboard/groups/101")
    assert group.status_code == 200
    assert "@prof" in group.get_data(as_text=True)
    # The user's token was exchanged once and never reached a cookie.
    token = next(iter(github.tokens))
    cookies = "".join(c.value for c in oauth_client._cookies.values())
    assert token not in cookies
    assert "GET /api/orgs/dtu-mlops/memberships/prof" in github.calls


def test_a_member_of_the_staff_team_is_let_in(
    oauth_client: FlaskClient, github: FakeGitHubOAuth
) -> None:
    response = follow(oauth_client, sign_in(oauth_client, github, "ta-anna"))
    assert response.status_code == 302
    assert oauth_client.get("/dashboard/").status_code == 200
    assert "GET /api/orgs/dtu-mlops/teams/teachers/memberships/ta-anna" in github.calls


@pytest.mark.parametrize("login", ["student-sam", "outsider", "invited-ida"])
def test_students_and_strangers_are_refused_with_403(
    oauth_client: FlaskClient, github: FakeGitHubOAuth, login: str
) -> None:
    response = follow(oauth_client, sign_in(oauth_client, github, login))
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert f"@{login}" in text and "only for the course staff" in text
    assert oauth_client.get_cookie(SESSION_COOKIE, path="/dashboard") is None
    assert oauth_client.get("/dashboard/").status_code == 302


def test_a_forged_state_is_refused(oauth_client: FlaskClient, github: FakeGitHubOAuth) -> None:
    callback = sign_in(oauth_client, github, "prof")
    params = parse_qs(urlsplit(str(callback)).query)
    forged = oauth_client.get(
        "/dashboard/login/callback", query_string={"code": params["code"][0], "state": "forged"}
    )
    assert forged.status_code == 400
    assert "could not be verified" in forged.get_data(as_text=True)
    assert oauth_client.get_cookie(SESSION_COOKIE, path="/dashboard") is None
    # The code was never exchanged: a forged state stops before any call to GitHub.
    assert not any("access_token" in call for call in github.calls)


def test_a_callback_from_another_browser_is_refused(
    oauth_client: FlaskClient, github: FakeGitHubOAuth
) -> None:
    callback = sign_in(oauth_client, github, "prof")
    other = oauth_client.application.test_client()  # no state cookie: a login-CSRF attempt
    response = follow(other, callback)
    assert response.status_code == 400
    assert other.get("/dashboard/").status_code == 302


def test_a_used_code_is_not_accepted_twice(
    oauth_client: FlaskClient, github: FakeGitHubOAuth
) -> None:
    callback = sign_in(oauth_client, github, "prof")
    state_cookie = oauth_client.get_cookie(OAUTH_COOKIE, path="/dashboard")
    assert state_cookie is not None
    assert follow(oauth_client, callback).status_code == 302
    # The same browser replays the callback with its old state: GitHub refuses the code.
    oauth_client.delete_cookie(SESSION_COOKIE, path="/dashboard")
    oauth_client.set_cookie(OAUTH_COOKIE, state_cookie.value, path="/dashboard")
    replay = follow(oauth_client, callback)
    assert replay.status_code == 400
    assert "did not accept" in replay.get_data(as_text=True)


def test_an_unreachable_github_gives_a_clear_502(make_app: Callable[..., Flask]) -> None:
    with serve(FakeGitHubOAuth(users=USERS)) as url:
        dead = url  # the port is closed once the server stops
    client = make_app(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key=SECRET_KEY,
        course_org="dtu-mlops",
        github_url=dead,
        api_url=dead + "/api",
        http_timeout=2,
    ).test_client()
    start = client.get("/dashboard/login/github")
    state = dict(httpx.URL(start.location).params)["state"]
    response = client.get("/dashboard/login/callback", query_string={"code": "x", "state": state})
    assert response.status_code == 502
    assert "could not be reached" in response.get_data(as_text=True)
    assert CLIENT_SECRET not in response.get_data(as_text=True)
