"""Safe, streaming extraction of the commit tarball GitHub serves for a push.

The archive's names, links and sizes come from a student repository, so every entry is
treated as hostile. The tarball is read as a stream (never whole in memory), each entry is
checked by the standard library's `tarfile.data_filter` *and* by our own rules, and written
by us rather than by `tarfile`, so that:

- nothing is ever written outside `destination`: names with `..` or an absolute path are
  skipped, and no write ever goes *through* a symbolic link (an entry inside a folder that
  the archive made a link is skipped; a link is created as a link and never followed);
- symbolic links are kept only when they stay inside the extracted tree, judged on the
  final tree (a link that is harmless alone can escape through links extracted later);
  hard links only to a regular file extracted earlier; devices and pipes are skipped;
- a later entry with the same path replaces an earlier file or link (the old entry is
  unlinked, which never follows a link), but never a folder: the later entry is skipped;
- the caps of `ExtractLimits` hold on what is really processed: the file count (every
  archive entry and every folder we create), the size of one file, and the total of bytes
  written or skipped over (a decompression bomb stops at the cap, not when the disk fills).

Entries that cannot be extracted safely are listed in `Extracted.skipped` with a reason; an
archive over a cap, unreadable or damaged, or a full disk raises `ArchiveRefused`. After
`ArchiveRefused` the destination holds a partial tree that the caller must discard.
"""

from __future__ import annotations

import errno
import gzip
import os
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict

# Bytes per read of a member's data: big enough to keep Python overhead low, small enough
# that memory stays flat whatever the archive holds.
CHUNK = 1024 * 1024
# tarfile reads a long-name or pax header whole; real ones are a few hundred bytes, so a
# bigger one can only be an attempt to exhaust memory.
MAX_HEADER_BYTES = 1024 * 1024
# What may follow the end-of-archive marker: git pads the archive to a 10 KiB record.
MAX_TRAILER_BYTES = 1024 * 1024
# Linux follows at most 40 symbolic links in one path lookup, then fails with ELOOP.
MAX_LINK_HOPS = 40
# How much of a very long name a skipped entry shows (the start and the end).
NAME_SHOWN = 120

Kind = Literal["too_large", "invalid"]
Node = Literal["dir", "file", "link"]

# Writes that fail for lack of room: the server's problem, never a reason to skip quietly.
_OUT_OF_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# Entries the file system refuses to store; skipping them is safe because the refusal comes
# before anything is written (EEXIST, ENOTDIR and ELOOP only happen on file systems that
# fold letter case, where two archive names can be one file: O_EXCL/O_NOFOLLOW stop us).
_FS_REFUSALS = {
    errno.ENAMETOOLONG: "its name is longer than the file system allows",
    errno.EILSEQ: "its name cannot be stored on the file system",
    errno.EEXIST: "another entry already has this name (perhaps differing only in letter case)",
    errno.ENOTDIR: "part of its path is not a folder on the file system",
    errno.ELOOP: "its path goes through a link",
    errno.EMLINK: "the file system refused it (too many links or subfolders)",
}
_FILTER_REASONS: dict[type[tarfile.FilterError], str] = {
    tarfile.AbsolutePathError: "it has an absolute path",
    tarfile.OutsideDestinationError: "it would be written outside the repository",
    tarfile.SpecialFileError: "it is a device, a pipe or another special entry, not a file",
    tarfile.AbsoluteLinkError: "it is a link to an absolute path, outside the repository",
    tarfile.LinkOutsideDestinationError: "it is a link pointing outside the repository",
}
_HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


class ExtractLimits(BaseModel):
    """Caps on what one commit may expand to; over any of them the archive is refused."""

    model_config = ConfigDict(frozen=True)

    max_total_bytes: int = 512 * 1024**2  # sum of extracted (and skipped-over) file sizes
    max_files: int = 50_000  # archive entries plus folders created for them
    max_file_bytes: int = 100 * 1024**2  # one file (GitHub itself refuses files over 100 MB)


DEFAULT_LIMITS = ExtractLimits()


class ArchiveRefused(Exception):
    """The archive is over a cap, unreadable, or could not be stored.

    `str(exc)` is a plain sentence for the check run; `kind` tells the caller whether the
    repository was too large (or the disk too full) or the archive itself was invalid.
    """

    def __init__(self, reason: str, kind: Kind) -> None:
        super().__init__(reason, kind)
        self.reason = reason
        self.kind: Kind = kind

    def __str__(self) -> str:
        return self.reason


@dataclass
class SkippedEntry:
    """An archive entry left out; `name` is printable (bad bytes and controls escaped)."""

    name: str
    reason: str


@dataclass
class Extracted:
    """Where the tree is, and what it holds: files (and links) on disk and bytes written."""

    root: Path
    files: int
    bytes: int
    skipped: list[SkippedEntry]


def extract_tarball(
    archive: Path, destination: Path, limits: ExtractLimits = DEFAULT_LIMITS
) -> Extracted:
    """Extract GitHub's `.tar.gz` of a commit into `destination` (created; must be empty).

    `root` is the archive's single top folder (`{owner}-{repo}-{sha7}/`) inside
    `destination`, or `destination` itself when there is no single top folder.
    Raises `ArchiveRefused`; the caller owns `destination` and removes it either way.
    """
    destination.mkdir(parents=True, exist_ok=True)
    destination = destination.resolve()
    if any(destination.iterdir()):
        raise ValueError(f"extraction needs an empty folder, and {destination} is not empty")
    extractor = _Extractor(destination, limits)
    # GzipFile (rather than tarfile's own "r|gz") checks the gzip CRC and length at the end,
    # so a truncated or corrupted download is refused instead of silently extracting part.
    with archive.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
        extractor.run(stream)
    return extractor.result()


class _Skip(Exception):
    """An entry left out; the message completes "skipped because ..."."""


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses headers tarfile would otherwise read whole into memory."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_TYPES and self.size > MAX_HEADER_BYTES:
            raise _invalid(f"it has a {_size(self.size)} header (real ones are far smaller)")
        # A GNU sparse entry carries a map of unbounded length; git never writes one.
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _invalid("it contains a sparse file, which GitHub never produces")
        try:
            return super()._proc_member(tar)  # type: ignore[misc]
        except tarfile.SubsequentHeaderError as exc:
            # `git archive` of an empty tree is the global header and then the end marker,
            # which tarfile takes for a broken header after the global one.
            if self.type == tarfile.XGLTYPE and str(exc) == "end of file header":
                raise tarfile.EOFHeaderError(str(exc)) from None
            raise

    def _proc_gnusparse_10(
        self, member: tarfile.TarInfo, pax_headers: dict[str, str], tar: tarfile.TarFile
    ) -> None:
        # The pax flavour of sparse files reads its map from the data, again unbounded.
        raise _invalid("it contains a sparse file, which GitHub never produces")


class _Extractor:
    """The state of one extraction: what is on disk, what was skipped, what was counted."""

    def __init__(self, destination: Path, limits: ExtractLimits) -> None:
        self.dest = destination
        self.base = str(destination)
        self.limits = limits
        self.path_max = os.pathconf(destination, "PC_PATH_MAX")
        # Our own record of the tree, keyed by relative path: the destination starts empty
        # and only we write to it, so this is exact and spares a stat per path component.
        self.nodes: dict[str, Node] = {}
        self.links: dict[str, str] = {}  # symlink path -> its target, as written
        self.skipped: list[SkippedEntry] = []
        self.entries = 0
        self.consumed = 0  # member bytes processed: written, or read past when skipped
        self.written = 0

    # -- reading ---------------------------------------------------------------------------

    def run(self, stream: IO[bytes]) -> None:
        # Opened inside the refusal translator (tarfile reads the first header at once) and
        # closed by the `with tar` right below.
        with self._reading(first=True):
            tar = tarfile.open(  # noqa: SIM115
                fileobj=stream,
                mode="r|",
                tarinfo=_BoundedTarInfo,
                encoding="utf-8",
                errors="surrogateescape",
            )
        with tar:
            while True:
                with self._reading():
                    member = tar.next()
                if member is None:
                    break
                # In stream mode tarfile keeps every header it has read; we need none.
                tar.members.clear()
                self._entry(tar, member)
            self._check_end(tar)

    @contextmanager
    def _reading(self, first: bool = False) -> Iterator[None]:
        """Turn any failure to read the archive into a refusal the student can read."""
        try:
            yield
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            what = "it is not a gzip-compressed tar archive" if first else "it is damaged"
            raise _invalid(what) from exc

    def _check_end(self, tar: tarfile.TarFile) -> None:
        """After the end-of-archive marker only zeros may follow, up to the end of the gzip.

        tarfile ends quietly at a corrupt header past the first one; the data after it shows
        the damage. Reading to the end also makes GzipFile verify the checksum.
        """
        assert tar.fileobj is not None  # an open TarFile always has its stream
        rest = 0
        while True:
            with self._reading():
                chunk = tar.fileobj.read(CHUNK)
            if not chunk:
                return
            rest += len(chunk)
            if rest > MAX_TRAILER_BYTES or chunk.strip(b"\0"):
                raise _invalid("it is damaged (unexpected data after the last entry)")

    # -- one entry ---------------------------------------------------------------------------

    def _entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self._count()
        # Unknown entry types carry data like regular files; tarfile reads past it.
        has_data = member.isreg() or member.type not in tarfile.SUPPORTED_TYPES
        if has_data and member.size > self.limits.max_file_bytes:
            raise _too_large(
                f"{_printable(member.name)} is {_size(member.size)} "
                f"(limit {_size(self.limits.max_file_bytes)} per file)"
            )
        try:
            self._place(tar, member)
        except _Skip as skip:
            if has_data:
                self._consume(member.size)
            self.skipped.append(SkippedEntry(_printable(member.name), str(skip)))

    def _place(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _parts(member.name)
        if not parts:
            if member.isdir():  # "./": the archive's own top, which is the destination
                return
            raise _Skip("it has no name")
        if member.issym() or member.islnk():
            _check_link_target(member.linkname)
        # The standard library's data filter vets links and special files. Plain files and
        # folders need nothing more than `_parts` and our never-through-a-link rule, which are
        # stricter than its realpath check, and skipping it there halves the time per file.
        if not (member.isreg() or member.isdir()):
            try:
                tarfile.data_filter(member, self.base)
            except tarfile.FilterError as exc:
                raise _Skip(_FILTER_REASONS.get(type(exc), str(exc))) from None
        key = "/".join(parts)
        path = f"{self.base}/{key}"
        # Checked first so that no chain of empty folders is left for a path that cannot fit.
        if len(os.fsencode(path)) >= self.path_max:
            raise _Skip(f"its path is longer than the file system allows ({self.path_max:,} bytes)")
        try:
            self._make_parents(parts)
            self._make(tar, member, key, path)
        except OSError as exc:
            if exc.errno in _OUT_OF_SPACE:
                raise ArchiveRefused(
                    "The server ran out of disk space while extracting the repository "
                    f"({os.strerror(exc.errno or 0)}, after {self.entries:,} files and folders "
                    f"and {_size(self.written)}), so it could not be evaluated this time.",
                    "too_large",
                ) from exc
            if exc.errno in _FS_REFUSALS:
                raise _Skip(_FS_REFUSALS[exc.errno]) from exc
            raise

    def _make_parents(self, parts: list[str]) -> None:
        for depth in range(1, len(parts)):
            key = "/".join(parts[:depth])
            node = self.nodes.get(key)
            if node == "dir":
                continue
            if node is not None:
                # Writing through a link could land anywhere; through a file is impossible.
                raise _Skip(f"it is inside {_printable(key)}, which is a {node}, not a folder")
            self._count()
            os.mkdir(f"{self.base}/{key}")
            self.nodes[key] = "dir"

    def _make(self, tar: tarfile.TarFile, member: tarfile.TarInfo, key: str, path: str) -> None:
        existing = self.nodes.get(key)
        if member.isdir():
            if existing == "dir":
                return
            self._remove(key, path)
            os.mkdir(path)
            self.nodes[key] = "dir"
            return
        if existing == "dir":
            raise _Skip("a folder with the same path came earlier in the archive")
        if member.isreg():
            self._remove(key, path)
            self._write(tar, member, key, path)
        elif member.issym():
            self._remove(key, path)
            os.symlink(member.linkname, path)
            self.nodes[key] = "link"
            self.links[key] = member.linkname
        else:  # a hard link: the data filter refused every other kind of entry
            # Only a plain path to a regular file we wrote: never through a link or a "..".
            target = "/".join(p for p in member.linkname.split("/") if p not in ("", "."))
            if target == key or self.nodes.get(target) != "file":
                shown = _printable(member.linkname)
                raise _Skip(f"it is a hard link to {shown}, which is not a file extracted earlier")
            self._remove(key, path)
            os.link(f"{self.base}/{target}", path, follow_symlinks=False)
            self.nodes[key] = "file"

    def _remove(self, key: str, path: str) -> None:
        """Drop an earlier file or link at `key`, so that a later entry replaces it."""
        if self.nodes.pop(key, None) is not None:
            os.unlink(path)  # removes a link itself, never what it points to
            self.links.pop(key, None)

    def _write(self, tar: tarfile.TarFile, member: tarfile.TarInfo, key: str, path: str) -> None:
        mode = 0o755 if member.mode & 0o100 else 0o644
        # O_EXCL|O_NOFOLLOW: we only ever create a fresh file, never open something existing.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, mode)
        self.nodes[key] = "file"
        source = tar.extractfile(member)
        assert source is not None  # a regular member always has a data stream
        with os.fdopen(fd, "wb") as out:
            while True:
                with self._reading():
                    chunk = source.read(CHUNK)
                if not chunk:
                    return
                # Counted as really read, before writing: the cap holds on actual bytes.
                self._consume(len(chunk))
                out.write(chunk)
                self.written += len(chunk)

    # -- caps --------------------------------------------------------------------------------

    def _count(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_files:
            cap = self.limits.max_files
            raise _too_large(f"more than {cap:,} files and folders (limit {cap:,})")

    def _consume(self, size: int) -> None:
        self.consumed += size
        if self.consumed > self.limits.max_total_bytes:
            cap = _size(self.limits.max_total_bytes)
            raise _too_large(f"its files add up to more than {cap} (limit {cap})")

    # -- the finished tree -----------------------------------------------------------------

    def result(self) -> Extracted:
        # Links escaping the destination go first: one of them may be what made the archive
        # look like it had more than one top folder.
        self._drop_escaping_links(0)
        tops = [key for key in self.nodes if "/" not in key]
        single = len(tops) == 1 and self.nodes[tops[0]] == "dir"
        if single:
            self._drop_escaping_links(1)
        return Extracted(
            root=self.dest / tops[0] if single else self.dest,
            files=sum(node != "dir" for node in self.nodes.values()),
            bytes=self.written,
            skipped=self.skipped,
        )

    def _drop_escaping_links(self, depth: int) -> None:
        """Remove links that resolve above the first `depth` folders of the destination."""
        for key in sorted(self.links):
            if self._escapes(key, depth):
                os.unlink(f"{self.base}/{key}")
                del self.nodes[key], self.links[key]
                reason = "it is a link that leads outside the repository through other links"
                self.skipped.append(SkippedEntry(_printable(key), reason))

    def _escapes(self, key: str, depth: int) -> bool:
        """Whether following the link `key` climbs above `depth`, resolved like the kernel.

        On our record of the final tree, one component at a time: a link's target replaces
        it, `..` climbs from where the walk really is. Other names are walked as folders even
        when missing (as `realpath` does), so a dangling link is judged by where it would
        lead once that name existed. Too many links end the walk: the kernel gives up there.
        """
        at = key.split("/")[:-1]
        pending = list(reversed(self.links[key].split("/")))
        hops = 1
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if len(at) <= depth:
                    return True
                at.pop()
                continue
            at.append(part)
            here = "/".join(at)
            if self.nodes.get(here) == "link":
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return False
                at.pop()
                pending.extend(reversed(self.links[here].split("/")))
        return False


def _parts(name: str) -> list[str]:
    """The path components of an entry name, or `_Skip` if it could reach outside."""
    if "\0" in name:
        raise _Skip("its name contains a NUL character")
    if not _is_utf8(name):
        raise _Skip("its name is not valid UTF-8")
    if name.startswith("/"):
        raise _Skip("it has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _Skip("its path contains '..', which could lead outside the repository")
    return parts


def _check_link_target(target: str) -> None:
    if not target:
        raise _Skip("it is a link with an empty target")
    if "\0" in target:
        raise _Skip("its link target contains a NUL character")
    if not _is_utf8(target):
        raise _Skip("its link target is not valid UTF-8")


def _is_utf8(text: str) -> bool:
    # tarfile decodes undecodable bytes to lone surrogates, which UTF-8 cannot encode.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(name: str) -> str:
    """`name` safe to show: invalid bytes as `\\xNN`, controls escaped, long middles cut."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        raw = name.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > NAME_SHOWN:
        half = NAME_SHOWN // 2
        text = f"{text[:half]}…{text[-half:]}"
    return text


def _size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size:,} bytes"


def _too_large(what: str) -> ArchiveRefused:
    return ArchiveRefused(f"The repository is too large to evaluate: {what}.", "too_large")


def _invalid(what: str) -> ArchiveRefused:
    return ArchiveRefused(
        f"The archive GitHub sent for this commit could not be read: {what}.", "invalid"
    )
