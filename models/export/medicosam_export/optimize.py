"""The last step of an export: `medicosam optimize` on the new model folder.

The optimizer is the package's TypeScript one (kernel/onnx/optimize/): it rewrites the encoder's
attention so that onnxruntime runs it faster and in about a third of the memory, checks the
outputs against the export, and records encoder.optimized.onnx in model.json. The conda
environment of the export does not need Node: when `node` or the built package is missing, the
export still succeeds and says which command to run later."""

import shutil
import subprocess
from pathlib import Path
from typing import Tuple

from .registry import PACKAGE_ROOT

CLI = PACKAGE_ROOT / "bin" / "medicosam.js"
BUILT = PACKAGE_ROOT / "dist" / "kernel" / "cli.js"


def optimize_folder(folder: Path, timeout_s: float = 1800) -> Tuple[bool, str]:
    """Runs `medicosam optimize FOLDER`. Returns (optimized, what to tell the user)."""
    later = f"optimize it later with: node {CLI} optimize {folder}"
    node = shutil.which("node")
    if node is None:
        return False, f"not optimized: node is not on PATH; {later}"
    if not BUILT.exists():
        return False, f"not optimized: the package is not built (npm run build in {PACKAGE_ROOT}); {later}"
    try:
        r = subprocess.run([node, str(CLI), "optimize", str(folder)], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False, f"not optimized: medicosam optimize took over {timeout_s:.0f} s; {later}"
    if r.returncode == 0:
        return True, r.stdout.strip()
    reason = (r.stderr.strip() or r.stdout.strip()).splitlines()
    return False, "not optimized (the export itself is fine): " + (reason[-1] if reason else f"exit {r.returncode}")
