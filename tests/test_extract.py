"""Extraction of GitHub's commit tarball: shaped like the real thing, and every hostile variant.

Archives are real `.tar.gz` files built with `tarfile` (pax format with the commit id in a
global header, like `git archive`), except where a builder is faster and says why. Every
extraction checks containment: a sibling `outside/` folder (with an empty `sentinel/` and a
`secret.txt`) must be exactly as before, and nothing may appear anywhere outside `dest/`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import struct
import subprocess
import sys
import tarfile
import textwrap
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from github_app.extract import ArchiveRefused, Extracted, ExtractLimits, extract_tarball

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
TOP = f"octo-mlops-{SHA[:7]}"
MB = 1024**2

Entry = tuple[tarfile.TarInfo, bytes | None]


def file(name: str, data: bytes | str = b"", mode: int = 0o644) -> Entry:
    info = tarfile.TarInfo(name)
    payload = data.encode() if isinstance(data, str) else data
    info.size, info.mode = len(payload), mode
    return info, payload


def folder(name: str) -> Entry:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, None


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Entry:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def special(name: str, kind: bytes) -> Entry:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def write_archive(path: Path, entries: Iterable[Entry], fmt: int = tarfile.PAX_FORMAT) -> Path:
    """A gzip-compressed tar with the commit id in a pax global header, as GitHub sends."""
    pax = {"comment": SHA} if fmt == tarfile.PAX_FORMAT else None
    with tarfile.open(path, "w:gz", format=fmt, pax_headers=pax, errors="surrogateescape") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def tree(root: Path, skip: Path | None = None) -> set[str]:
    """Every path under `root` (links not followed), without the `skip` subtree."""
    found: set[str] = set()
    for folder_path, dirs, files in os.walk(root):
        here = Path(folder_path)
        dirs[:] = [name for name in dirs if here / name != skip]
        found.update(str((here / name).relative_to(root)) for name in [*dirs, *files])
    return found


class Sandbox:
    """tmp_path with an `outside/` that must never change, and `dest/` to extract into."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.outside = tmp_path / "outside"
        (self.outside / "sentinel").mkdir(parents=True)
        self.secret = self.outside / "secret.txt"
        self.secret.write_text("secret")
        self.dest = tmp_path / "dest"
        self.top = self.dest / TOP

    def archive(self, entries: Iterable[Entry], fmt: int = tarfile.PAX_FORMAT) -> Path:
        return write_archive(self.tmp / "commit.tar.gz", entries, fmt)

    def extract(self, archive: Path, limits: ExtractLimits | None = None) -> Extracted:
        with self.contained():
            return extract_tarball(archive, self.dest, limits or ExtractLimits())

    def refuse(self, archive: Path, limits: ExtractLimits | None = None) -> ArchiveRefused:
        with self.contained(), pytest.raises(ArchiveRefused) as refused:
            extract_tarball(archive, self.dest, limits or ExtractLimits())
        return refused.value

    @contextmanager
    def contained(self) -> Iterator[None]:
        """Whatever happens inside, nothing outside `dest/` appears, changes or is linked."""
        before = tree(self.tmp, skip=self.dest)
        yield
        assert tree(self.tmp, skip=self.dest) == before
        assert list((self.outside / "sentinel").iterdir()) == []
        assert self.secret.read_text() == "secret"
        assert self.secret.stat().st_nlink == 1  # no hard link was made to it


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def reasons(extracted: Extracted) -> dict[str, str]:
    return {entry.name: entry.reason for entry in extracted.skipped}


# -- the normal case --------------------------------------------------------------------------


def test_github_archive_extracts_into_its_top_folder(box: Sandbox) -> None:
    archive = box.archive(
        [
            folder(f"{TOP}/"),
            file(f"{TOP}/README.md", "# Leaf classifier\n"),
            folder(f"{TOP}/src/"),
            file(f"{TOP}/src/leaf/__init__.py", ""),  # its folder has no entry of its own
            file(f"{TOP}/src/leaf/train.py", "print('train')\n"),
            file(f"{TOP}/scripts/run.sh", "#!/bin/sh\n", mode=0o755),
        ]
    )
    with tarfile.open(archive) as tar:  # shaped like GitHub's: the commit in a global header
        assert tar.pax_headers["comment"] == SHA

    extracted = box.extract(archive)

    assert extracted.root == box.top.resolve()
    assert extracted.files == 4
    assert extracted.bytes == len("# Leaf classifier\n") + len("print('train')\n") + 10
    assert extracted.skipped == []
    assert (box.top / "src/leaf/train.py").read_text() == "print('train')\n"
    assert (box.top / "src/leaf/__init__.py").read_text() == ""
    assert os.access(box.top / "scripts/run.sh", os.X_OK)
    assert not os.access(box.top / "README.md", os.X_OK)
    assert "pax_global_header" not in tree(box.dest)


@pytest.mark.parametrize(
    "entries",
    [
        [file("README.md", "hi"), file("src/app.py", "x = 1\n")],
        [file("README.md", "hi")],
        [file("./src/app.py", "x = 1\n"), file("./README.md", "hi")],
    ],
    ids=["two-top-entries", "single-top-file", "dot-prefixed"],
)
def test_archive_without_a_single_top_folder_extracts_into_destination(
    box: Sandbox, entries: list[Entry]
) -> None:
    extracted = box.extract(box.archive(entries))

    assert extracted.root == box.dest.resolve()
    assert (box.dest / "README.md").read_text() == "hi"
    assert extracted.skipped == []


def test_empty_archive_gives_an_empty_tree(box: Sandbox) -> None:
    extracted = box.extract(box.archive([]))

    assert (extracted.root, extracted.files, extracted.bytes) == (box.dest.resolve(), 0, 0)
    assert tree(box.dest) == set()


def test_destination_must_be_empty(box: Sandbox) -> None:
    box.dest.mkdir()
    (box.dest / "left-over.txt").write_text("x")

    with pytest.raises(ValueError, match="not empty"):
        extract_tarball(box.archive([file(f"{TOP}/a.txt", "a")]), box.dest)


# -- names that reach outside ---------------------------------------------------------------


def test_dotdot_entries_are_skipped(box: Sandbox) -> None:
    archive = box.archive(
        [
            file(f"{TOP}/README.md", "ok"),
            file("../escaped.txt", "evil"),
            file(f"{TOP}/../../outside/sentinel/evil.txt", "evil"),
            file(f"{TOP}/docs/../notes.txt", "sneaky but inside"),
            folder(f"{TOP}/../../outside/sentinel/made/"),
        ]
    )

    extracted = box.extract(archive)

    dotdot = "its path contains '..', which could lead outside the repository"
    assert reasons(extracted) == {
        "../escaped.txt": dotdot,
        f"{TOP}/../../outside/sentinel/evil.txt": dotdot,
        f"{TOP}/docs/../notes.txt": dotdot,
        f"{TOP}/../../outside/sentinel/made": dotdot,
    }
    assert tree(box.dest) == {TOP, f"{TOP}/README.md"}


def test_absolute_entries_are_skipped(box: Sandbox) -> None:
    target = box.outside / "sentinel" / "absolute.txt"
    archive = box.archive(
        [file(f"{TOP}/a.txt", "a"), file(str(target), "evil"), file("./", "no name")]
    )

    extracted = box.extract(archive)

    assert reasons(extracted) == {str(target): "it has an absolute path", "./": "it has no name"}
    assert tree(box.dest) == {TOP, f"{TOP}/a.txt"}  # not re-rooted inside either


# -- links ------------------------------------------------------------------------------------


def test_symlinks_pointing_outside_are_skipped(box: Sandbox) -> None:
    archive = box.archive(
        [
            folder(f"{TOP}/"),
            link(f"{TOP}/secret", "../../outside/secret.txt"),
            link(f"{TOP}/absolute", str(box.secret)),
            link(f"{TOP}/drop", "../../outside/sentinel"),
            link(f"{TOP}/empty", ""),
            file(f"{TOP}/drop/pwned.txt", "evil"),  # through the refused link: a plain folder
        ]
    )

    extracted = box.extract(archive)

    assert reasons(extracted) == {
        f"{TOP}/secret": "it is a link pointing outside the repository",
        f"{TOP}/absolute": "it is a link to an absolute path, outside the repository",
        f"{TOP}/drop": "it is a link pointing outside the repository",
        f"{TOP}/empty": "it is a link with an empty target",
    }
    assert (box.top / "drop").is_dir() and not (box.top / "drop").is_symlink()
    assert (box.top / "drop/pwned.txt").read_text() == "evil"
    assert not any(p.is_symlink() for p in box.dest.rglob("*"))


def test_symlinks_inside_are_kept_and_never_written_through(box: Sandbox) -> None:
    archive = box.archive(
        [
            file(f"{TOP}/docs/index.md", "# Docs\n"),
            link(f"{TOP}/README.md", "docs/index.md"),
            link(f"{TOP}/latest", "docs"),
            file(f"{TOP}/latest/injected.md", "through the link"),
        ]
    )

    extracted = box.extract(archive)

    assert os.readlink(box.top / "README.md") == "docs/index.md"
    assert (box.top / "README.md").read_text() == "# Docs\n"
    assert os.readlink(box.top / "latest") == "docs"
    assert reasons(extracted) == {
        f"{TOP}/latest/injected.md": f"it is inside {TOP}/latest, which is a link, not a folder"
    }
    assert not (box.top / "docs/injected.md").exists()
    assert extracted.files == 3  # the file and both links


def test_link_escaping_through_a_link_extracted_later_is_removed(box: Sandbox) -> None:
    # Each link looks inside when extracted; together `escape` reaches tmp/outside/secret.txt:
    # d/e/a is TOP itself, and the two ".." then climb above dest.
    archive = box.archive(
        [
            folder(f"{TOP}/d/e/"),
            link(f"{TOP}/escape", "d/e/a/../../outside/secret.txt"),
            link(f"{TOP}/d/e/a", "../.."),
            link(f"{TOP}/d/up", "../.."),  # the destination itself: above the repository
            link(f"{TOP}/d/fine", "e/a/d"),  # through a, and still inside
            link(f"{TOP}/d/ghost", "missing/../../.."),  # dangling, but would climb out
            link(f"{TOP}/d/loop1", "loop2/../../.."),  # a loop: the kernel stops (ELOOP)
            link(f"{TOP}/d/loop2", "loop1"),
        ]
    )

    extracted = box.extract(archive)

    chained = "it is a link that leads outside the repository through other links"
    assert reasons(extracted) == {
        f"{TOP}/d/ghost": chained,
        f"{TOP}/d/up": chained,
        f"{TOP}/escape": chained,
    }
    assert not os.path.lexists(box.top / "escape")
    assert os.readlink(box.top / "d/loop1") == "loop2/../../.."
    assert os.readlink(box.top / "d/e/a") == "../.."
    assert (box.top / "d/fine").resolve() == (box.top / "d").resolve()
    for path in box.dest.rglob("*"):
        if path.is_symlink() and "loop" not in path.name:
            assert path.resolve().is_relative_to(extracted.root)


def test_hard_links_outside_are_skipped_and_inside_kept(box: Sandbox) -> None:
    archive = box.archive(
        [
            file(f"{TOP}/data.csv", "a,b\n"),
            link(f"{TOP}/copy.csv", f"{TOP}/data.csv", tarfile.LNKTYPE),
            link(f"{TOP}/secret", "../outside/secret.txt", tarfile.LNKTYPE),
            link(f"{TOP}/absolute", str(box.secret), tarfile.LNKTYPE),
            link(f"{TOP}/later", f"{TOP}/not-yet.csv", tarfile.LNKTYPE),
            link(f"{TOP}/folder", TOP, tarfile.LNKTYPE),
        ]
    )

    extracted = box.extract(archive)

    assert reasons(extracted) == {
        f"{TOP}/secret": "it is a link pointing outside the repository",
        f"{TOP}/absolute": "it is a link to an absolute path, outside the repository",
        f"{TOP}/later": f"it is a hard link to {TOP}/not-yet.csv, "
        "which is not a file extracted earlier",
        f"{TOP}/folder": f"it is a hard link to {TOP}, which is not a file extracted earlier",
    }
    assert (box.top / "copy.csv").read_text() == "a,b\n"
    assert (box.top / "copy.csv").stat().st_ino == (box.top / "data.csv").stat().st_ino
    assert extracted.files == 2


def test_device_fifo_and_unknown_entries_are_skipped(box: Sandbox) -> None:
    archive = box.archive(
        [
            file(f"{TOP}/a.txt", "a"),
            special(f"{TOP}/null", tarfile.CHRTYPE),
            special(f"{TOP}/disk", tarfile.BLKTYPE),
            special(f"{TOP}/pipe", tarfile.FIFOTYPE),
            special(f"{TOP}/odd", b"Z"),  # a type tar does not define: skipped over
        ]
    )

    extracted = box.extract(archive)

    special_file = "it is a device, a pipe or another special entry, not a file"
    assert reasons(extracted) == {
        f"{TOP}/null": special_file,
        f"{TOP}/disk": special_file,
        f"{TOP}/pipe": special_file,
        f"{TOP}/odd": special_file,
    }
    assert tree(box.dest) == {TOP, f"{TOP}/a.txt"}


# -- duplicates -------------------------------------------------------------------------------


def test_later_entry_replaces_an_earlier_file_or_link_but_never_a_folder(box: Sandbox) -> None:
    archive = box.archive(
        [
            file(f"{TOP}/a.txt", "first"),
            file(f"{TOP}/a.txt", "second"),
            file(f"{TOP}/target.txt", "keep"),
            link(f"{TOP}/l", "target.txt"),
            file(f"{TOP}/l", "replaces the link, not its target"),
            folder(f"{TOP}/dir/"),
            file(f"{TOP}/dir/inside.txt", "in"),
            file(f"{TOP}/dir", "would drop a folder"),
            file(f"{TOP}/was-file", "x"),
            folder(f"{TOP}/was-file/"),
        ]
    )

    extracted = box.extract(archive)

    assert (box.top / "a.txt").read_text() == "second"
    assert (box.top / "target.txt").read_text() == "keep"
    assert not (box.top / "l").is_symlink()
    assert (box.top / "l").read_text() == "replaces the link, not its target"
    assert (box.top / "dir/inside.txt").read_text() == "in"
    assert (box.top / "was-file").is_dir()
    assert reasons(extracted) == {
        f"{TOP}/dir": "a folder with the same path came earlier in the archive"
    }
    assert extracted.files == 4


# -- names the file system cannot take --------------------------------------------------------


def test_path_longer_than_the_file_system_allows_is_skipped(box: Sandbox) -> None:
    deep = f"{TOP}/" + "/".join(["d" * 49] * 100) + "/model.py"  # over 5,000 characters
    wide = f"{TOP}/" + "n" * 300 + ".py"  # one name over the 255-byte limit
    archive = box.archive([file(f"{TOP}/ok.py", "x = 1\n"), file(deep, "x"), file(wide, "x")])

    extracted = box.extract(archive)

    assert len(deep) > 5000
    [too_deep, too_wide] = extracted.skipped
    assert too_deep.reason == "its path is longer than the file system allows (4,096 bytes)"
    assert too_deep.name.startswith(f"{TOP}/ddd") and "…" in too_deep.name
    assert len(too_deep.name) < 200
    assert too_wide.reason == "its name is longer than the file system allows"
    assert tree(box.dest) == {TOP, f"{TOP}/ok.py"}  # no half-made chain of folders


def test_names_that_are_not_utf8_are_skipped_and_shown_escaped(box: Sandbox) -> None:
    latin1 = os.fsdecode(f"{TOP}/café.txt".encode("latin-1"))  # é as the lone byte \xe9
    archive = box.archive(
        [
            file(f"{TOP}/ok.txt", "ok"),
            file(latin1, "bonjour"),
            link(f"{TOP}/to-latin1", os.fsdecode(b"caf\xe9.txt")),
        ]
    )

    extracted = box.extract(archive)

    assert reasons(extracted) == {
        f"{TOP}/caf\\xe9.txt": "its name is not valid UTF-8",
        f"{TOP}/to-latin1": "its link target is not valid UTF-8",
    }
    assert tree(box.dest) == {TOP, f"{TOP}/ok.txt"}


def test_control_and_nul_characters_are_skipped_or_escaped(box: Sandbox) -> None:
    nul, _ = file(f"{TOP}/placeholder", "x")
    nul.pax_headers = {"path": f"{TOP}/a\0b.txt"}
    archive = box.archive([file(f"{TOP}/new\nline.txt", "kept"), (nul, b"x")])

    extracted = box.extract(archive)

    assert (box.top / "new\nline.txt").read_text() == "kept"
    assert reasons(extracted) == {f"{TOP}/a\\x00b.txt": "its name contains a NUL character"}


# -- caps -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4.5 MB .tar.gz holding one 1 GB file of zeros, built in ~0.2 s with no 1 GB anywhere.

    After a full flush deflate starts afresh, so the compressed form of one MB of zeros is
    the same bytes every time: written 1,024 times, then the end, with the CRC and length
    that gzip checks. (`gzip -t` accepts the result; tarfile+gzip take 2-3 s to make it.)
    """
    path = tmp_path_factory.mktemp("bomb") / "bomb.tar.gz"
    info = tarfile.TarInfo(f"{TOP}/zeros.bin")
    info.size = 1024 * MB
    header, zeros, end = info.tobuf(format=tarfile.PAX_FORMAT), bytes(MB), bytes(2 * 512)
    pack = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate, gzip framing ours
    first = pack.compress(header) + pack.flush(zlib.Z_FULL_FLUSH)
    block = pack.compress(zeros) + pack.flush(zlib.Z_FULL_FLUSH)
    assert pack.compress(zeros) + pack.flush(zlib.Z_FULL_FLUSH) == block
    crc = zlib.crc32(header)
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    with path.open("wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")  # gzip, deflate, no name
        out.write(first)
        for _ in range(1024):
            out.write(block)
        out.write(pack.compress(end) + pack.flush())
        size = len(header) + info.size + len(end)
        out.write(struct.pack("<II", zlib.crc32(end, crc), size % 2**32))
    return path


def test_file_over_the_size_cap_is_refused_before_anything_is_written(
    box: Sandbox, bomb: Path
) -> None:
    assert bomb.stat().st_size < 10 * MB

    refused = box.refuse(bomb)

    assert refused.kind == "too_large"
    assert str(refused) == (
        f"The repository is too large to evaluate: {TOP}/zeros.bin is 1 GB (limit 100 MB per file)."
    )
    assert not (box.top / "zeros.bin").exists()


def test_decompression_bomb_stops_at_the_total_cap_with_bounded_memory(
    box: Sandbox, bomb: Path
) -> None:
    limits = ExtractLimits(max_total_bytes=16 * MB, max_file_bytes=2 * 1024**3)

    tracemalloc.start()
    try:
        refused = box.refuse(bomb, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert refused.kind == "too_large"
    assert str(refused) == (
        "The repository is too large to evaluate: its files add up to more than 16 MB "
        "(limit 16 MB)."
    )
    assert (box.top / "zeros.bin").stat().st_size <= 16 * MB  # the cap held on real bytes
    assert peak < 8 * MB


def many_files_archive(path: Path, count: int) -> Path:
    """`count` empty files in one top folder, as a .tar.gz.

    Built from one header that `tarfile` made, patching the name's digits and checksum:
    200,000 `addfile` calls take ~4 s, this ~0.4 s. `test_many_files_under_the_cap...`
    extracts the same build fully, which proves the headers valid.
    """
    template = tarfile.TarInfo(f"{TOP}/f000000.txt")
    header = bytearray(template.tobuf(format=tarfile.USTAR_FORMAT))
    digits_at = len(f"{TOP}/f")
    checksum = int(header[148:154], 8) - sum(b"000000")
    with gzip.open(path, "wb", compresslevel=1) as out:
        batch: list[bytes] = []
        for number in range(count):
            digits = b"%06d" % number
            header[digits_at : digits_at + 6] = digits
            header[148:155] = b"%06o\0" % (checksum + sum(digits))
            batch.append(bytes(header))
            if len(batch) == 10_000:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))
        out.write(bytes(2 * 512))  # the end-of-archive marker
    return path


def test_200_000_files_are_refused_at_the_file_cap(box: Sandbox) -> None:
    archive = many_files_archive(box.tmp / "many.tar.gz", 200_000)

    refused = box.refuse(archive, ExtractLimits(max_files=1_000))

    assert refused.kind == "too_large"
    assert str(refused) == (
        "The repository is too large to evaluate: more than 1,000 files and folders (limit 1,000)."
    )
    assert len(tree(box.dest)) <= 1_000


def test_many_files_under_the_cap_are_all_extracted(box: Sandbox) -> None:
    archive = many_files_archive(box.tmp / "many.tar.gz", 3_000)

    extracted = box.extract(archive)

    assert extracted.files == 3_000
    assert (box.top / "f002999.txt").read_bytes() == b""
    assert extracted.skipped == []


def test_folders_made_for_entries_count_towards_the_file_cap(box: Sandbox) -> None:
    archive = box.archive([file(f"{TOP}/a/b/c/d/e/deep.txt", "x")])

    refused = box.refuse(archive, ExtractLimits(max_files=5))

    assert "more than 5 files and folders (limit 5)" in str(refused)


def test_skipped_data_counts_towards_the_total_cap(box: Sandbox) -> None:
    archive = box.archive([file(f"../big-{n}.bin", bytes(3000)) for n in range(4)])

    refused = box.refuse(archive, ExtractLimits(max_total_bytes=10_000))

    assert "its files add up to more than 9.8 KB (limit 9.8 KB)" in str(refused)


# -- archives that are not (good) tarballs -----------------------------------------------------


def plain_tar(entries: Iterable[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"<html>Not Found</html>",
        os.urandom(4096),
        gzip.compress(b"not a tar archive, only text\n" * 40),
        plain_tar([file(f"{TOP}/a.txt", "a")]),  # a tar, but not gzip-compressed
    ],
    ids=["empty", "html", "random", "gzip-of-text", "uncompressed-tar"],
)
def test_not_a_gzip_tarball_is_refused_as_invalid(box: Sandbox, content: bytes) -> None:
    archive = box.tmp / "commit.tar.gz"
    archive.write_bytes(content)

    refused = box.refuse(archive)

    assert refused.kind == "invalid"
    assert str(refused) == (
        "The archive GitHub sent for this commit could not be read: "
        "it is not a gzip-compressed tar archive."
    )


def test_truncated_download_is_refused_as_damaged(box: Sandbox) -> None:
    whole = box.archive([file(f"{TOP}/weights-{n}.bin", os.urandom(64 * 1024)) for n in range(4)])
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    refused = box.refuse(whole)

    assert refused.kind == "invalid"
    assert str(refused) == (
        "The archive GitHub sent for this commit could not be read: it is damaged."
    )


def test_broken_header_in_the_middle_is_refused_not_silently_cut(box: Sandbox) -> None:
    raw = bytearray(plain_tar([file(f"{TOP}/a.txt", "a"), file(f"{TOP}/b.txt", "b" * 600)]))
    second = raw.index(f"{TOP}/b.txt".encode())
    raw[second + 148 : second + 156] = b"garbage!"  # its checksum no longer matches
    archive = box.tmp / "commit.tar.gz"
    archive.write_bytes(gzip.compress(bytes(raw)))

    refused = box.refuse(archive)

    assert refused.kind == "invalid"
    assert "it is damaged (unexpected data after the last entry)" in str(refused)


@pytest.mark.parametrize(
    ("entry", "fmt", "expected"),
    [
        (file(f"{TOP}/" + "x" * (2 * MB), "x"), tarfile.GNU_FORMAT, "it has a 2 MB header"),
        (file(f"{TOP}/" + "x" * (2 * MB), "x"), tarfile.PAX_FORMAT, "it has a 2 MB header"),
        (special(f"{TOP}/sparse", tarfile.GNUTYPE_SPARSE), tarfile.GNU_FORMAT, "sparse file"),
    ],
    ids=["gnu-long-name", "pax-long-name", "gnu-sparse"],
)
def test_headers_that_would_fill_memory_are_refused(
    box: Sandbox, entry: Entry, fmt: int, expected: str
) -> None:
    refused = box.refuse(box.archive([file(f"{TOP}/a.txt", "a"), entry], fmt))

    assert refused.kind == "invalid"
    assert expected in str(refused)


def test_pax_sparse_map_is_refused(box: Sandbox) -> None:
    info, data = file(f"{TOP}/sparse.bin", b"1\n0\n1\n" + bytes(509) + b"x")
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}

    refused = box.refuse(box.archive([(info, data)]))

    assert str(refused).endswith("it contains a sparse file, which GitHub never produces.")


# -- the server's disk ------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from github_app.extract import ArchiveRefused, extract_tarball
    try:
        extract_tarball(Path(sys.argv[1]), Path(sys.argv[2]))
        print(json.dumps({"refused": None}))
    except ArchiveRefused as refused:
        print(json.dumps({"refused": str(refused), "kind": refused.kind}))
    """
)


def extract_in_child(
    archive: Path, dest: Path, wrap: list[str], setup: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*wrap, sys.executable, "-c", CHILD, str(archive), str(dest)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=setup,
        cwd=Path(__file__).resolve().parent.parent,
    )


def test_full_disk_is_refused_with_a_clear_sentence(box: Sandbox) -> None:
    archive = box.archive([file(f"{TOP}/w{n}.bin", os.urandom(512 * 1024)) for n in range(4)])
    box.dest.mkdir()
    # A 1 MB tmpfs over dest, in private user and mount namespaces: no root, no mock.
    mount = 'mount -t tmpfs -o size=1m tmpfs "$1" && shift && exec "$@"'
    wrap = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount, "sh"]
    wrap.append(str(box.dest))
    try:
        child = extract_in_child(archive, box.dest, wrap)
    except FileNotFoundError:
        pytest.skip("unshare is not installed")
    if child.returncode != 0 and not child.stdout:
        pytest.skip(f"cannot mount a small tmpfs here: {child.stderr.strip()}")

    result = json.loads(child.stdout)

    assert result["kind"] == "too_large"
    assert result["refused"].startswith(
        "The server ran out of disk space while extracting the repository "
        "(No space left on device, after "
    )
    assert result["refused"].endswith("so it could not be evaluated this time.")
    assert list((box.outside / "sentinel").iterdir()) == []


def test_file_size_limit_of_the_server_is_refused_not_crashed(box: Sandbox) -> None:
    archive = box.archive([file(f"{TOP}/weights.bin", os.urandom(2 * MB))])

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (MB, resource.RLIM_INFINITY))

    child = extract_in_child(archive, box.dest, [], limit_file_size)

    result = json.loads(child.stdout)
    assert result["kind"] == "too_large"
    assert "(File too large, after 2 files and folders and 1 MB)" in result["refused"]
    assert (box.top / "weights.bin").stat().st_size <= MB
