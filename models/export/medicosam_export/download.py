"""Downloads a checkpoint with its checksum verified before it is used: into NAME.part while
hashing, then renamed only when the checksum matches, so that a broken or partial download is
never taken for the model."""

import os
import shutil
import sys
import urllib.request
from pathlib import Path
from typing import Callable, Dict, Optional

from .checksums import ChecksumError, file_chunks, hash_chunks, hash_file, verify

USER_AGENT = "medicosam-notebook-export/1 (+https://github.com/computational-cell-analytics/medico-sam)"


def _progress_printer(total: Optional[int]) -> Callable[[int], None]:
    state = {"last": -1}

    def report(done: int) -> None:
        if not sys.stderr.isatty():
            return
        pct = int(100 * done / total) if total else -1
        if pct != state["last"]:
            state["last"] = pct
            size = f"{done / 1e6:.0f} MB" + (f" of {total / 1e6:.0f} MB ({pct} %)" if total else "")
            print(f"\r  downloading: {size}", end="", file=sys.stderr, flush=True)

    return report


def download(url: str, dest: Path, expected: Dict[str, Optional[str]], timeout: float = 60.0) -> Dict[str, str]:
    """Downloads `url` to `dest`, verifying `expected` ({'xxh128': hex, 'sha256': hex}).
    Returns the checksums of the file. Raises ChecksumError (and removes the partial file)
    on a mismatch."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    algorithms = tuple(a for a in ("xxh128", "sha256") if a == "sha256" or expected.get(a))
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as out:
            total = response.length
            progress = _progress_printer(total)
            done = 0

            def chunks():
                nonlocal done
                while True:
                    chunk = response.read(1 << 20)
                    if not chunk:
                        return
                    out.write(chunk)
                    done += len(chunk)
                    progress(done)
                    yield chunk

            actual = hash_chunks(chunks(), algorithms)
        if sys.stderr.isatty():
            print(file=sys.stderr)
        verify(actual, expected, f"download of {url}")
    except BaseException:
        if part.exists():
            part.unlink()
        raise
    os.replace(part, dest)
    return actual


def fetch_checkpoint(url: Optional[str], dest: Path, expected: Dict[str, Optional[str]],
                     candidates=()) -> (Path, Dict[str, str]):
    """The checkpoint as a verified local file: an existing copy at `dest` or one of
    `candidates` (e.g. micro_sam's cache) whose checksum matches, else a fresh download."""
    algorithms = tuple(a for a in ("xxh128", "sha256") if a == "sha256" or expected.get(a))
    for path in [Path(dest), *map(Path, candidates)]:
        if path.is_file():
            actual = hash_file(path, algorithms)
            try:
                verify(actual, expected, str(path))
            except ChecksumError as err:
                print(f"  ignoring {path}: {err}", file=sys.stderr)
                continue
            print(f"  using {path} (checksum verified)", file=sys.stderr)
            return path, actual
    if url is None:
        raise ChecksumError(f"no verified copy of {Path(dest).name} found and no download address")
    print(f"  downloading {url}\n    -> {dest}", file=sys.stderr)
    return Path(dest), download(url, Path(dest), expected)
