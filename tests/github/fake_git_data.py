"""The fake GitHub's git database and pull requests, strict like GitHub.

Blobs, trees, commits and refs are hashed the way git hashes them (a blob's id is the SHA-1
of `blob <size>\\0<bytes>`), so ids are content addresses as on GitHub. Requests are
validated the way GitHub validates them and refused with GitHub's status and message:
422 for a tree entry with a bad mode or path, a missing base tree or parent, a ref that
exists already or a pull request without new commits; 403 "Resource not accessible by
integration" for writes by an installation without Contents: write (`deny_writes`). The
app may never move a repository's default branch: such a request is refused and recorded
in `default_branch_writes`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from tests.github.fake_github import Call, FakeGitHub

MODES = {"100644": "blob", "100755": "blob", "040000": "tree", "160000": "commit", "120000": "blob"}
GIT_DOCS = "https://docs.github.com/rest/git"
PULLS_DOCS = "https://docs.github.com/rest/pulls/pulls"

RULES = [
    Rule("/repos/<owner>/<repo>/git/blobs", methods=["POST"], endpoint="git_create_blob"),
    Rule("/repos/<owner>/<repo>/git/trees", methods=["POST"], endpoint="git_create_tree"),
    Rule("/repos/<owner>/<repo>/git/commits", methods=["POST"], endpoint="git_create_commit"),
    Rule("/repos/<owner>/<repo>/git/commits/<sha>", methods=["GET"], endpoint="git_get_commit"),
    Rule("/repos/<owner>/<repo>/git/ref/<path:ref>", methods=["GET"], endpoint="git_get_ref"),
    Rule("/repos/<owner>/<repo>/git/refs", methods=["POST"], endpoint="git_create_ref"),
    Rule("/repos/<owner>/<repo>/git/refs/<path:ref>", methods=["PATCH"], endpoint="git_update_ref"),
    Rule("/repos/<owner>/<repo>/pulls", methods=["POST"], endpoint="pulls_create"),
    Rule("/repos/<owner>/<repo>/pulls", methods=["GET"], endpoint="pulls_list"),
]


@dataclass
class GitCommit:
    tree: str
    parents: list[str]
    message: str


@dataclass
class PullRequest:
    number: int
    title: str
    body: str
    head: str  # branch name in the same repository
    base: str
    head_sha: str
    state: str = "open"

    def as_json(self, owner: str, repo: str, base_url: str) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "title": self.title,
            "body": self.body,
            "url": f"{base_url}repos/{owner}/{repo}/pulls/{self.number}",
            "html_url": f"https://github.com/{owner}/{repo}/pull/{self.number}",
            "head": {"ref": self.head, "sha": self.head_sha, "label": f"{owner}:{self.head}"},
            "base": {"ref": self.base, "label": f"{owner}:{self.base}"},
        }


@dataclass
class Repository:
    default_branch: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    # tree id → {name: (mode, id)}
    trees: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    commits: dict[str, GitCommit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" → commit id
    pulls: list[PullRequest] = field(default_factory=list)


def _object_id(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, message: str, docs: str = GIT_DOCS) -> Response:
    return _json({"message": message, "documentation_url": docs, "status": str(status)}, status)


class FakeGitData:
    """Git objects, refs and pull requests of the fake's repositories (see the module)."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.repositories: dict[tuple[str, str], Repository] = {}
        # Installations whose token lacks Contents / Pull requests: write.
        self.read_only: set[int] = set()
        # Refused attempts to move a default branch: (owner, repo, method).
        self.default_branch_writes: list[tuple[str, str, str]] = []
        self._pull_numbers = itertools.count(1)

    # -- set-up and inspection ------------------------------------------------------------

    def add_commit(
        self,
        owner: str,
        repo: str,
        sha: str,
        files: dict[str, bytes],
        *,
        branch: str = "main",
        default_branch: str = "main",
    ) -> None:
        """Make commit `sha` (a real git commit's id) with these files the head of `branch`."""
        repository = self.repositories.setdefault((owner, repo), Repository(default_branch))
        root: dict[str, Any] = {}
        for path, content in files.items():
            *folders, name = path.split("/")
            node = root
            for folder in folders:
                node = node.setdefault(folder, {})
            node[name] = content
        repository.commits[sha] = GitCommit(self._store_tree(repository, root), [], "work")
        repository.refs[f"refs/heads/{branch}"] = sha

    def deny_writes(self, installation: int) -> None:
        """Tokens of `installation` may read but not write (no Contents: write)."""
        self.read_only.add(installation)

    def repository(self, owner: str, repo: str) -> Repository:
        return self.repositories[(owner, repo)]

    def files_at(self, owner: str, repo: str, commit: str) -> dict[str, bytes]:
        """Every file of a commit, by path (what a checkout would hold)."""
        repository = self.repository(owner, repo)
        found: dict[str, bytes] = {}

        def walk(tree: str, prefix: str) -> None:
            for name, (mode, sha) in repository.trees[tree].items():
                if MODES[mode] == "tree":
                    walk(sha, f"{prefix}{name}/")
                elif MODES[mode] == "blob":
                    found[f"{prefix}{name}"] = repository.blobs[sha]

        walk(repository.commits[commit].tree, "")
        return found

    def _store_tree(self, repository: Repository, node: dict[str, Any]) -> str:
        entries: dict[str, tuple[str, str]] = {}
        for name, value in node.items():
            if isinstance(value, dict):
                entries[name] = ("040000", self._store_tree(repository, value))
            else:
                sha = _object_id("blob", value)
                repository.blobs[sha] = value
                entries[name] = ("100644", sha)
        return self._tree_id(repository, entries)

    @staticmethod
    def _tree_id(repository: Repository, entries: dict[str, tuple[str, str]]) -> str:
        # git sorts tree entries by name, a folder's name as if it ended with "/".
        def key(name: str) -> str:
            return name + "/" if entries[name][0] == "040000" else name

        data = b"".join(
            f"{entries[n][0].lstrip('0')} {n}\0".encode() + bytes.fromhex(entries[n][1])
            for n in sorted(entries, key=key)
        )
        sha = _object_id("tree", data)
        repository.trees[sha] = dict(entries)
        return sha

    def _ancestors(self, repository: Repository, sha: str) -> set[str]:
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current in seen or current not in repository.commits:
                continue
            seen.add(current)
            todo.extend(repository.commits[current].parents)
        return seen

    # -- access ---------------------------------------------------------------------------

    def _access(
        self, request: Request, call: Call, owner: str, repo: str, *, write: bool
    ) -> Repository | Response:
        refused = self.fake._installation_for(request, call, owner, repo)
        if refused:
            return refused
        repository = self.repositories.get((owner, repo))
        if repository is None:
            return _error(404, "Not Found")
        if write and call.installation in self.read_only:
            return _error(403, "Resource not accessible by integration")
        return repository

    def _body(self, call: Call, required: dict[str, type]) -> dict[str, Any] | Response:
        body = call.json
        if not isinstance(body, dict):
            return _error(400, "Problems parsing JSON")
        for key, kind in required.items():
            if not isinstance(body.get(key), kind):
                return _error(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
        return body

    # -- blobs, trees, commits ------------------------------------------------------------

    def _git_create_blob(self, request: Request, call: Call, owner: str, repo: str) -> Response:
        repository = self._access(request, call, owner, repo, write=True)
        if isinstance(repository, Response):
            return repository
        body = self._body(call, {"content": str})
        if isinstance(body, Response):
            return body
        encoding = body.get("encoding", "utf-8")
        if encoding not in ("utf-8", "base64"):
            return _error(422, f"encoding must be utf-8 or base64, not {encoding!r}")
        try:
            data = (
                base64.b64decode(body["content"], validate=True)
                if encoding == "base64"
                else body["content"].encode("utf-8")
            )
        except (binascii.Error, ValueError):
            return _error(422, "content is not valid Base64")
        sha = _object_id("blob", data)
        repository.blobs[sha] = data
        return _json(
            {"sha": sha, "url": f"{self.fake.url}repos/{owner}/{repo}/git/blobs/{sha}"}, 201
        )

    def _git_create_tree(self, request: Request, call: Call, owner: str, repo: str) -> Response:
        repository = self._access(request, call, owner, repo, write=True)
        if isinstance(repository, Response):
            return repository
        body = self._body(call, {"tree": list})
        if isinstance(body, Response):
            return body
        base = body.get("base_tree")
        if base is not None and base not in repository.trees:
            return _error(422, "Invalid request.\n\nbase_tree is not a valid tree")
        root = self._expand(repository, base) if base else {}
        for entry in body["tree"]:
            problem = self._entry_problem(repository, entry)
            if problem:
                return _error(422, f"Invalid request.\n\n{problem}")
            node = root
            *folders, name = entry["path"].split("/")
            for folder in folders:
                child = node.get(folder)
                if not isinstance(child, dict):
                    child = node[folder] = {}
                node = child
            if entry.get("sha", "") is None:
                node.pop(name, None)  # GitHub deletes a path given `sha: null`
            elif "content" in entry:
                node[name] = entry["content"].encode("utf-8")
            else:
                node[name] = (entry["mode"], entry["sha"])
        sha = self._store(repository, root)
        return _json({"sha": sha, "tree": [], "truncated": False}, 201)

    @staticmethod
    def _entry_problem(repository: Repository, entry: Any) -> str | None:
        if not isinstance(entry, dict):
            return "tree entries must be objects"
        path, mode, kind = entry.get("path"), entry.get("mode"), entry.get("type")
        if not isinstance(path, str) or not path:
            return "tree.path is required"
        if (
            path.startswith("/")
            or path.endswith("/")
            or any(part in ("", ".", "..") for part in path.split("/"))
        ):
            return f"tree.path {path!r} is not a valid path"
        if mode not in MODES:
            return f"tree.mode {mode!r} is not one of {sorted(MODES)}"
        if kind != MODES[mode]:
            return f"tree.type {kind!r} does not match mode {mode}"
        has_sha, has_content = "sha" in entry, "content" in entry
        if has_sha == has_content:
            return "each tree entry needs exactly one of sha and content"
        sha = entry.get("sha")
        if has_sha and sha is not None:
            known = {"blob": repository.blobs, "tree": repository.trees}.get(kind)
            if known is not None and sha not in known:
                return f"tree.sha {sha} is not a valid {kind}"
        if has_content and (kind != "blob" or not isinstance(entry["content"], str)):
            return "tree.content is only for blobs, as a string"
        return None

    def _expand(self, repository: Repository, tree: str) -> dict[str, Any]:
        """A tree as nested dicts: folders as dicts, other entries as (mode, id)."""
        node: dict[str, Any] = {}
        for name, (mode, sha) in repository.trees[tree].items():
            node[name] = self._expand(repository, sha) if mode == "040000" else (mode, sha)
        return node

    def _store(self, repository: Repository, node: dict[str, Any]) -> str:
        entries: dict[str, tuple[str, str]] = {}
        for name, value in node.items():
            if isinstance(value, dict):
                entries[name] = ("040000", self._store(repository, value))
            elif isinstance(value, bytes):
                sha = _object_id("blob", value)
                repository.blobs[sha] = value
                entries[name] = ("100644", sha)
            else:
                entries[name] = value
        return self._tree_id(repository, entries)

    def _git_create_commit(self, request: Request, call: Call, owner: str, repo: str) -> Response:
        repository = self._access(request, call, owner, repo, write=True)
        if isinstance(repository, Response):
            return repository
        body = self._body(call, {"message": str, "tree": str})
        if isinstance(body, Response):
            return body
        if body["tree"] not in repository.trees:
            return _error(422, "Invalid request.\n\ntree is not a valid tree")
        parents = body.get("parents", [])
        if not isinstance(parents, list) or any(p not in repository.commits for p in parents):
            return _error(422, "Invalid request.\n\nparents must be existing commits")
        data = "\n".join(
            [f"tree {body['tree']}", *(f"parent {p}" for p in parents), "", body["message"]]
        ).encode()
        sha = _object_id("commit", data)
        repository.commits[sha] = GitCommit(body["tree"], list(parents), body["message"])
        return _json(self._commit_json(owner, repo, sha, repository.commits[sha]), 201)

    def _commit_json(self, owner: str, repo: str, sha: str, commit: GitCommit) -> dict[str, Any]:
        return {
            "sha": sha,
            "message": commit.message,
            "tree": {"sha": commit.tree},
            "parents": [{"sha": p} for p in commit.parents],
            "url": f"{self.fake.url}repos/{owner}/{repo}/git/commits/{sha}",
        }

    def _git_get_commit(
        self, request: Request, call: Call, owner: str, repo: str, sha: str
    ) -> Response:
        repository = self._access(request, call, owner, repo, write=False)
        if isinstance(repository, Response):
            return repository
        commit = repository.commits.get(sha)
        if commit is None:
            return _error(404, "Not Found")
        return _json(self._commit_json(owner, repo, sha, commit), 200)

    # -- refs -----------------------------------------------------------------------------

    def _ref_json(self, owner: str, repo: str, ref: str, sha: str) -> dict[str, Any]:
        return {
            "ref": ref,
            "url": f"{self.fake.url}repos/{owner}/{repo}/git/{ref}",
            "object": {"type": "commit", "sha": sha},
        }

    def _git_get_ref(
        self, request: Request, call: Call, owner: str, repo: str, ref: str
    ) -> Response:
        repository = self._access(request, call, owner, repo, write=False)
        if isinstance(repository, Response):
            return repository
        sha = repository.refs.get(f"refs/{ref}")
        if sha is None:
            return _error(404, "Not Found")
        return _json(self._ref_json(owner, repo, f"refs/{ref}", sha), 200)

    def _git_create_ref(self, request: Request, call: Call, owner: str, repo: str) -> Response:
        repository = self._access(request, call, owner, repo, write=True)
        if isinstance(repository, Response):
            return repository
        body = self._body(call, {"ref": str, "sha": str})
        if isinstance(body, Response):
            return body
        ref = body["ref"]
        if not ref.startswith("refs/") or ref.count("/") < 2:
            return _error(422, f"{ref} is not a valid ref name.")
        if ref in repository.refs:
            return _error(422, "Reference already exists")
        if ref == f"refs/heads/{repository.default_branch}":
            self.default_branch_writes.append((owner, repo, "POST"))
        if body["sha"] not in repository.commits:
            return _error(422, "Object does not exist")
        repository.refs[ref] = body["sha"]
        return _json(self._ref_json(owner, repo, ref, body["sha"]), 201)

    def _git_update_ref(
        self, request: Request, call: Call, owner: str, repo: str, ref: str
    ) -> Response:
        repository = self._access(request, call, owner, repo, write=True)
        if isinstance(repository, Response):
            return repository
        body = self._body(call, {"sha": str})
        if isinstance(body, Response):
            return body
        name = f"refs/{ref}"
        if name == f"refs/heads/{repository.default_branch}":
            self.default_branch_writes.append((owner, repo, "PATCH"))
            return _error(422, "The app may not move the default branch (fake GitHub's rule)")
        if name not in repository.refs:
            return _error(422, "Reference does not exist")
        if body["sha"] not in repository.commits:
            return _error(422, "Object does not exist")
        force = body.get("force", False)
        if not force and repository.refs[name] not in self._ancestors(repository, body["sha"]):
            return _error(422, "Update is not a fast forward")
        repository.refs[name] = body["sha"]
        return _json(self._ref_json(owner, repo, name, body["sha"]), 200)

    # -- pull requests --------------------------------------------------------------------

    def _pulls_create(self, request: Request, call: Call, owner: str, repo: str) -> Response:
        repository = self._access(request, call, owner, repo, write=True)
        if isinstance(repository, Response):
            return repository
        body = self._body(call, {"title": str, "head": str, "base": str})
        if isinstance(body, Response):
            return body
        head_owner, _, head = body["head"].rpartition(":")
        if head_owner not in ("", owner):
            return _error(422, "Validation Failed: head must be a branch of this repository")
        head_sha = repository.refs.get(f"refs/heads/{head}")
        base_sha = repository.refs.get(f"refs/heads/{body['base']}")
        if head_sha is None or base_sha is None:
            which = "head" if head_sha is None else "base"
            return _error(422, f"Validation Failed: {which} is invalid", PULLS_DOCS)
        if any(
            p.head == head and p.base == body["base"] and p.state == "open"
            for p in repository.pulls
        ):
            return _error(
                422, f"Validation Failed: A pull request already exists for {owner}:{head}.",
                PULLS_DOCS,
            )  # fmt: skip
        if head_sha in self._ancestors(repository, base_sha):
            return _error(
                422, f"Validation Failed: No commits between {body['base']} and {head}", PULLS_DOCS
            )
        pull = PullRequest(
            next(self._pull_numbers), body["title"], body.get("body") or "", head, body["base"],
            head_sha,
        )  # fmt: skip
        repository.pulls.append(pull)
        return _json(pull.as_json(owner, repo, self.fake.url), 201)

    def _pulls_list(self, request: Request, call: Call, owner: str, repo: str) -> Response:
        repository = self._access(request, call, owner, repo, write=False)
        if isinstance(repository, Response):
            return repository
        state = request.args.get("state", "open")
        if state not in ("open", "closed", "all"):
            return _error(422, f"state {state!r} is not one of open, closed, all", PULLS_DOCS)
        head = request.args.get("head")
        if head is not None and ":" not in head:
            return _error(422, "head must be given as owner:branch", PULLS_DOCS)
        found = [
            p.as_json(owner, repo, self.fake.url)
            for p in repository.pulls
            if state in ("all", p.state) and (head is None or head == f"{owner}:{p.head}")
        ]
        return _json(found, 200)
