"""Reading SAM-family checkpoints into a plain SAM state dict.

Three layouts occur: a plain state dict (the official SAM and MedSAM files), micro_sam /
torch_em training checkpoints ({'model_state': {...}} with keys prefixed 'sam.'), and
multi-GPU ones ('module.sam.'). micro_sam's own loader strips the same prefixes."""

from collections import OrderedDict
from typing import Dict, Mapping, Tuple

SAM_PREFIXES = ("image_encoder.", "prompt_encoder.", "mask_decoder.")
STRIP_PREFIXES = ("module.sam.", "sam.", "module.")

# image_encoder.patch_embed.proj.weight is [embed_dim, 3, 16, 16]; embed_dim names the ViT.
ARCH_BY_EMBED_DIM = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}


class CheckpointError(Exception):
    pass


def extract_state_dict(obj) -> "OrderedDict":
    """The SAM state dict inside a loaded checkpoint object, with training prefixes removed."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"the checkpoint holds a {type(obj).__name__}, not a state dict")
    state = obj.get("model_state", obj) if isinstance(obj.get("model_state", None), Mapping) else obj
    out = OrderedDict()
    for key, value in state.items():
        for prefix in STRIP_PREFIXES:
            if key.startswith(prefix) and not key.startswith(SAM_PREFIXES):
                key = key[len(prefix):]
                break
        out[key] = value
    sam_keys = [k for k in out if k.startswith(SAM_PREFIXES)]
    if not sam_keys:
        sample = ", ".join(list(out)[:5])
        raise CheckpointError(
            "no SAM weights (image_encoder.*, prompt_encoder.*, mask_decoder.*) in the checkpoint; "
            f"its first keys are: {sample}")
    # Anything else (e.g. a UNETR decoder saved alongside) is not part of SAM.
    return OrderedDict((k, out[k]) for k in sam_keys)


def detect_architecture(state: Mapping) -> str:
    weight = state.get("image_encoder.patch_embed.proj.weight")
    if weight is None:
        raise CheckpointError("image_encoder.patch_embed.proj.weight is missing: not a SAM ViT checkpoint")
    dim = int(weight.shape[0])
    if dim not in ARCH_BY_EMBED_DIM:
        raise CheckpointError(f"image encoder width {dim} is none of SAM's ViT-B/L/H (768/1024/1280)")
    return ARCH_BY_EMBED_DIM[dim]


def load_checkpoint(path) -> Tuple["OrderedDict", Dict[str, str]]:
    """Loads with torch, safely first (weights_only); training checkpoints that pickle other
    objects fall back to micro_sam's tolerant loader, else to a full unpickle (the file's
    checksum was verified before, so its origin is known)."""
    import torch

    notes = {}
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        notes["loader"] = "torch.load(weights_only=True)"
    except TypeError:  # torch < 1.13 has no weights_only
        obj = torch.load(path, map_location="cpu")
        notes["loader"] = "torch.load"
    except Exception as safe_error:  # pickled non-tensor objects (optimizer state, configs)
        try:
            from micro_sam.util import _load_checkpoint  # type: ignore

            obj, _ = _load_checkpoint(path)
            notes["loader"] = "micro_sam.util._load_checkpoint"
        except ImportError:
            obj = torch.load(path, map_location="cpu", weights_only=False)
            notes["loader"] = f"torch.load(weights_only=False) after: {type(safe_error).__name__}"
    return extract_state_dict(obj), notes
