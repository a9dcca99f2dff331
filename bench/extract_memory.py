"""Peak memory of extracting a commit tarball: `extract_tarball` streams, so a fresh process
extracting a ~200 MB `.tar.gz` must peak well under 150 MB of RSS (start-up included).

    python bench/extract_memory.py [--mb 200]

The archive is built in a temporary folder from pseudo-random bytes (incompressible, so it
is really that large compressed), half in two big "checkpoints", half in 100 KB files,
shaped like GitHub's (one top folder, the commit id in a pax global header).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHA = "0123456789abcdef0123456789abcdef01234567"
TOP = f"dtu-mlops-group-{SHA[:7]}"
MB = 1024**2
SMALL = 100 * 1024

CHILD = """
import json, sys, time
from pathlib import Path
from github_app.extract import ExtractLimits, extract_tarball
cap = int(sys.argv[3])  # the default caps refuse over 512 MB; --mb may ask for more
limits = ExtractLimits(
    max_total_bytes=max(cap, 512 * 2**20), max_file_bytes=max(cap, 100 * 2**20)
)
start = time.perf_counter()
extracted = extract_tarball(Path(sys.argv[1]), Path(sys.argv[2]), limits)
print(json.dumps({"seconds": time.perf_counter() - start, "bytes": extracted.bytes,
                  "files": extracted.files}))
"""


class RandomBytes(io.RawIOBase):
    """`size` pseudo-random bytes made on demand, so the builder stays small too."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.left, self.rng = size, rng

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = self.rng.randbytes(count)
        self.left -= count
        return count


def build(path: Path, total: int, top: str = TOP, extra: dict[str, bytes] | None = None) -> None:
    """A ~`total`-byte archive under the folder `top`, with `extra` files beside the data."""
    rng = random.Random(2476)
    big = total // 4  # two files: half the archive
    sizes = [("models/checkpoint-a.ckpt", big), ("models/checkpoint-b.ckpt", big)]
    sizes += [(f"data/shard-{n:05d}.bin", SMALL) for n in range((total - 2 * big) // SMALL)]
    with tarfile.open(
        path, "w:gz", compresslevel=1, format=tarfile.PAX_FORMAT, pax_headers={"comment": SHA}
    ) as tar:
        folder = tarfile.TarInfo(top)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, size in sizes:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = size
            tar.addfile(info, io.BufferedReader(RandomBytes(size, rng), MB))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="archive size in MB (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="extract-bench-") as tmp:
        archive = Path(tmp) / "commit.tar.gz"
        build(archive, args.mb * MB)
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(archive),
                str(Path(tmp) / "tree"),
                str(2 * args.mb * MB),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        result = json.loads(child.stdout)
        size = archive.stat().st_size / MB
    # The builder ran in this process, so the only child measured is the extractor, Python's
    # start-up included (~29 MB alone). ru_maxrss is in KB on Linux.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"extract {size:.0f} MB tarball: peak RSS {peak:.0f} MB (goal < 150 MB), "
        f"{result['seconds']:.1f} s ({result['files']:,} files, {result['bytes'] / MB:.0f} MB)"
    )


if __name__ == "__main__":
    main()
