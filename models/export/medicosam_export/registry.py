"""models/registry.json from Python: known models, their checkpoints and checksums, and the
cache folders. kernel/sam/registry.ts reads the same file and computes the same folders (a test
keeps the two in step), so that `loadModel("medicosam")` finds what this exporter wrote."""

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

EXPORT_DIR = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = EXPORT_DIR.parent.parent
REGISTRY_PATH = PACKAGE_ROOT / "models" / "registry.json"


class RegistryError(Exception):
    pass


@dataclass(frozen=True)
class Checkpoint:
    url: Optional[str]
    file: str
    xxh128: Optional[str]
    sha256: Optional[str] = None
    manual: Optional[str] = None
    micro_sam_model_type: Optional[str] = None


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    aliases: List[str] = field(default_factory=list)
    folder: str = ""
    shipped: bool = False
    architecture: Optional[str] = None
    homepage: Optional[str] = None
    licence: Optional[str] = None
    checkpoint: Optional[Checkpoint] = None
    notice: Optional[str] = None
    preprocessing: Optional[dict] = None


def load_registry(path: Path = REGISTRY_PATH) -> Dict[str, Entry]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RegistryError(f"cannot read the model registry {path}: {err}") from err
    models = raw.get("models")
    if not isinstance(models, dict):
        raise RegistryError(f"{path}: no 'models' object")
    entries = {}
    for name, e in models.items():
        c = e.get("checkpoint")
        ckpt = None
        if c is not None:
            ckpt = Checkpoint(
                url=c.get("url"), file=c["file"], xxh128=c.get("xxh128"), sha256=c.get("sha256"),
                manual=c.get("manual"), micro_sam_model_type=c.get("microSamModelType"),
            )
            if ckpt.url is not None and not (ckpt.xxh128 or ckpt.sha256):
                raise RegistryError(f"{path}: model '{name}' has a download url but no checksum")
        entries[name] = Entry(
            name=name, title=e["title"], aliases=list(e.get("aliases", [])), folder=e.get("folder", name),
            shipped=bool(e.get("shipped", False)), architecture=e.get("architecture"), homepage=e.get("homepage"),
            licence=e.get("licence"), checkpoint=ckpt, notice=e.get("notice"), preprocessing=e.get("preprocessing"),
        )
    return entries


def lookup(entries: Mapping[str, Entry], name: str) -> Optional[Entry]:
    key = name.lower()
    for e in entries.values():
        if e.name.lower() == key or any(a.lower() == key for a in e.aliases):
            return e
    return None


def models_cache_dir(env: Optional[Mapping[str, str]] = None, home: Optional[str] = None,
                     platform: Optional[str] = None) -> Path:
    """$MEDICOSAM_MODELS_DIR, else $XDG_CACHE_HOME/medicosam/models, else %LOCALAPPDATA% on
    Windows, else ~/.cache/medicosam/models. Same order as modelsCacheDir() in registry.ts."""
    env = os.environ if env is None else env
    home = os.path.expanduser("~") if home is None else home
    platform = sys.platform if platform is None else platform
    if env.get("MEDICOSAM_MODELS_DIR"):
        return Path(env["MEDICOSAM_MODELS_DIR"]).resolve()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "medicosam" / "models"
    if platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "medicosam" / "models"
    return Path(home) / ".cache" / "medicosam" / "models"


def checkpoints_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """Downloaded checkpoints, beside the exported models (they are only needed to re-export)."""
    return models_cache_dir(env) / ".checkpoints"


def micro_sam_cached_checkpoint(model_type: str, env: Optional[Mapping[str, str]] = None) -> Path:
    """Where micro_sam (pooch) keeps a downloaded checkpoint: reused when its checksum matches,
    so that micro_sam users do not download 360 MB twice."""
    env = os.environ if env is None else env
    base = Path(env["MICROSAM_CACHEDIR"]) if env.get("MICROSAM_CACHEDIR") else Path(os.path.expanduser("~")) / ".cache" / "micro_sam"
    return base / "models" / model_type
