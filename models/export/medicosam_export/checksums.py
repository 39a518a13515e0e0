"""File checksums: xxh128 (what micro_sam's registry publishes, via pooch) and sha256 (what
model.json records for the ONNX files and the TypeScript side verifies)."""

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterable

CHUNK = 1 << 22


class ChecksumError(Exception):
    pass


def _xxh128():
    try:
        import xxhash  # conda-forge python-xxhash, a micro_sam dependency; Debian python3-xxhash
    except ImportError:
        return None
    return xxhash.xxh3_128()


def hash_chunks(chunks: Iterable[bytes], algorithms=("xxh128", "sha256")) -> Dict[str, str]:
    """Hashes a stream once for all algorithms (a 360 MB checkpoint is read a single time)."""
    hashers = {}
    for a in algorithms:
        if a == "sha256":
            hashers[a] = hashlib.sha256()
        elif a == "xxh128":
            h = _xxh128()
            if h is None:
                raise ChecksumError(
                    "xxh128 needs the xxhash module: conda install -c conda-forge python-xxhash "
                    "(it comes with micro_sam) or apt-get install python3-xxhash")
            hashers[a] = h
        else:
            raise ChecksumError(f"unknown checksum algorithm '{a}'")
    for chunk in chunks:
        for h in hashers.values():
            h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def file_chunks(path: Path):
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return
            yield chunk


def hash_file(path: Path, algorithms=("xxh128", "sha256")) -> Dict[str, str]:
    return hash_chunks(file_chunks(Path(path)), algorithms)


def xxh128_command_available() -> bool:
    return shutil.which("xxh128sum") is not None


def xxh128_by_command(path: Path) -> str:
    """`xxh128sum FILE`, the command micro_sam's source names for making its checksums."""
    out = subprocess.run(["xxh128sum", str(path)], check=True, capture_output=True, text=True).stdout
    return out.split()[0]


def parse_expected(value: str) -> (str, str):
    """'xxh128:abc...' or 'sha256:...' (pooch's notation) -> (algorithm, hex)."""
    if ":" in value:
        alg, _, digest = value.partition(":")
    else:
        alg, digest = ("sha256" if len(value) == 64 else "xxh128"), value
    alg = alg.lower()
    if alg not in ("xxh128", "sha256"):
        raise ChecksumError(f"unknown checksum algorithm in '{value}'")
    return alg, digest.lower()


def verify(actual: Dict[str, str], expected: Dict[str, str], what: str) -> None:
    """Raises when any expected checksum differs; at least one must be checked."""
    checked = 0
    for alg, digest in expected.items():
        if not digest:
            continue
        checked += 1
        if actual.get(alg) != digest.lower():
            raise ChecksumError(
                f"{what}: {alg} is {actual.get(alg)} but the registry says {digest}. The file is corrupt, "
                "truncated or a different version; delete it and run again.")
    if checked == 0:
        raise ChecksumError(f"{what}: nothing to verify it against (no checksum given)")
