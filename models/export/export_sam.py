#!/usr/bin/env python
"""Export a SAM-family model (MedicoSAM, SAM ViT-B, MedSAM, or any SAM checkpoint) to the ONNX
model folder the TypeScript engine loads: encoder.onnx, decoder.onnx, model.json.

    python models/export/export_sam.py medicosam                 # download (checksum verified), export
    python models/export/export_sam.py sam-vit-b --out models/sam-vit-b
    python models/export/export_sam.py medsam --checkpoint ~/Downloads/medsam_vit_b.pth
    python models/export/export_sam.py --checkpoint my_finetuned.pt --name my-sam

Runs in the conda environment of environment.yml (segment_anything, torch, onnx, onnxruntime,
xxhash). The default output folder is the user model cache (~/.cache/medicosam/models/NAME),
where `loadModel("NAME")` looks after the package's models/ folder.

Every export is checked: onnxruntime runs the ONNX files on the repository's sample image and a
fixed prompt set, and the result is compared with segment_anything's SamPredictor (what micro_sam
runs); the largest differences are printed and stored in model.json, and reference masks are
written to NAME/reference/ for the TypeScript end-to-end test.
"""

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from medicosam_export import checkpoint as ckpt  # noqa: E402
from medicosam_export import onnx_export  # noqa: E402
from medicosam_export.checksums import ChecksumError, hash_file, verify  # noqa: E402
from medicosam_export.download import fetch_checkpoint  # noqa: E402
from medicosam_export.optimize import optimize_folder  # noqa: E402
from medicosam_export.manifest import DEFAULT_PREPROCESSING, build_manifest, write_manifest  # noqa: E402
from medicosam_export.registry import (  # noqa: E402
    checkpoints_dir, load_registry, lookup, micro_sam_cached_checkpoint, models_cache_dir)


class ExportError(Exception):
    pass


def _versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("torch", "segment-anything", "segment_anything", "micro_sam", "onnx", "onnxruntime"):
        try:
            out[dist.replace("-", "_")] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _sha256(path: Path) -> str:
    return hash_file(path, ("sha256",))["sha256"]


def export_folder(sam, out: Path, *, name: str, title: str, origin: str, checkpoint_file: str, checksums: dict,
                  architecture: str, preprocessing=None, notice=None, licence=None, decoder_factory=None,
                  verify_fn=None, versions=None) -> dict:
    """Writes encoder.onnx, decoder.onnx and (last) model.json into `out`. `decoder_factory(sam)`
    gives the module to export as the decoder (default SamOnnxModel with all 4 masks);
    `verify_fn(sam, out)` checks the files and returns the figures for model.json."""
    out.mkdir(parents=True, exist_ok=True)
    if decoder_factory is None:
        from segment_anything.utils.onnx import SamOnnxModel

        def decoder_factory(model):
            return SamOnnxModel(model, return_single_mask=False)

    t0 = time.time()
    print(f"exporting the image encoder -> {out / 'encoder.onnx'}")
    onnx_export.export_encoder(sam.image_encoder, out / "encoder.onnx", image_size=sam.image_encoder.img_size)
    print(f"exporting the prompt encoder + mask decoder (4 masks) -> {out / 'decoder.onnx'}")
    onnx_export.export_decoder(decoder_factory(sam), out / "decoder.onnx")
    print(f"  done in {time.time() - t0:.0f} s")
    encoder_io = onnx_export.describe_io(out / "encoder.onnx")
    decoder_io = onnx_export.describe_io(out / "decoder.onnx")
    verification = None
    if verify_fn is not None:
        print("checking the export against PyTorch (SamPredictor) on the sample image:")
        verification = verify_fn(sam, out)
    manifest = build_manifest(
        name=name, title=title, checkpoint_origin=origin, checkpoint_file=checkpoint_file,
        checkpoint_checksums=checksums, encoder_sha256=_sha256(out / "encoder.onnx"),
        decoder_sha256=_sha256(out / "decoder.onnx"), encoder_io=encoder_io, decoder_io=decoder_io,
        preprocessing=preprocessing, notice=notice, architecture=architecture, licence=licence,
        versions=versions, verification=verification)
    write_manifest(out, manifest)
    return manifest


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Known names: see models/registry.json (medicosam, sam-vit-b, medsam).")
    p.add_argument("name", nargs="?", help="registry name or alias (medicosam, vit_b_medical_imaging, sam-vit-b, medsam)")
    p.add_argument("--checkpoint", type=Path, help="a local checkpoint instead of downloading (required for medsam)")
    p.add_argument("--out", type=Path, help="model folder to write (default: the user model cache / NAME)")
    p.add_argument("--model-name", dest="model_name", help="name in model.json for a checkpoint not in the registry")
    p.add_argument("--force", action="store_true", help="overwrite an existing model folder")
    p.add_argument("--no-verify", action="store_true", help="skip the comparison with PyTorch (not recommended)")
    p.add_argument("--no-optimize", action="store_true",
                   help="do not run `medicosam optimize` on the result (needs node and the built package)")
    p.add_argument("--min-mask-iou", type=float, default=0.98,
                   help="fail the check when a chosen mask's IoU with PyTorch's is below this (default 0.98)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="accept a --checkpoint whose checksum differs from the registry's (a different version)")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    registry = load_registry()
    entry = lookup(registry, args.name) if args.name else None
    if args.name and entry is None:
        raise ExportError(f"'{args.name}' is not in models/registry.json (known: {', '.join(registry)}); "
                          "for another checkpoint use --checkpoint FILE --model-name NAME")
    if entry is None and args.checkpoint is None:
        raise ExportError("give a registry name (e.g. medicosam) or --checkpoint FILE")
    if entry is not None and entry.shipped:
        raise ExportError(f"'{entry.name}' ships with the package (models/{entry.folder}); there is nothing to export")

    name = entry.name if entry else (args.model_name or args.checkpoint.stem)
    out = (args.out or (models_cache_dir() / (entry.folder if entry else name))).resolve()
    if (out / "model.json").exists() and not args.force:
        raise ExportError(f"{out} already holds a model (model.json); pass --force to export it again")

    expected = {}
    if entry and entry.checkpoint:
        expected = {"xxh128": entry.checkpoint.xxh128, "sha256": entry.checkpoint.sha256}
    if args.checkpoint is not None:
        path = args.checkpoint.expanduser().resolve()
        if not path.is_file():
            raise ExportError(f"checkpoint not found: {path}")
        algorithms = ("xxh128", "sha256")
        try:
            checksums = hash_file(path, algorithms)
        except ChecksumError as err:
            print(f"warning: {err}; recording sha256 only", file=sys.stderr)
            checksums = hash_file(path, ("sha256",))
        if any(expected.values()):
            try:
                verify(checksums, {k: v for k, v in expected.items() if k in checksums}, str(path))
            except ChecksumError as err:
                if not args.trust_checkpoint:
                    raise ExportError(f"{err}\n(--trust-checkpoint exports it anyway, recording its own checksums)") from err
                print(f"warning: {err}", file=sys.stderr)
        origin = str(path)
    else:
        if entry.checkpoint.url is None:
            raise ExportError(f"'{entry.name}' cannot be downloaded by script. {entry.checkpoint.manual}")
        model_type = entry.checkpoint.micro_sam_model_type
        candidates = [micro_sam_cached_checkpoint(model_type)] if model_type else []
        path, checksums = fetch_checkpoint(entry.checkpoint.url, checkpoints_dir() / entry.checkpoint.file, expected, candidates)
        origin = entry.checkpoint.url

    print(f"loading {path}")
    state, notes = ckpt.load_checkpoint(path)
    arch = ckpt.detect_architecture(state)
    if entry and entry.architecture and arch != entry.architecture:
        raise ExportError(f"{path} is a SAM {arch} checkpoint, but '{entry.name}' is {entry.architecture}")
    try:
        from segment_anything import sam_model_registry
    except ImportError as err:
        raise ExportError("segment_anything is not importable: run this in the conda environment of environment.yml "
                          "(conda env create -f environment.yml; conda activate medicosam)") from err
    sam = sam_model_registry[arch]()
    missing, unexpected = sam.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ExportError(f"{path} does not fit SAM {arch}: missing {list(missing)[:5]}, unexpected {list(unexpected)[:5]}")
    sam.eval()

    verify_fn = None
    if not args.no_verify:
        try:
            import onnxruntime  # noqa: F401
            from medicosam_export.verify import verify_export

            def verify_fn(model, folder):
                return verify_export(model, folder, min_mask_iou=args.min_mask_iou)
        except ImportError:
            print("warning: onnxruntime is not importable, so the export is NOT checked against PyTorch "
                  "(conda install -c conda-forge onnxruntime)", file=sys.stderr)

    versions = {**_versions(), "checkpointLoader": notes.get("loader")}
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        manifest = export_folder(
            sam, tmp, name=name, title=entry.title if entry else f"SAM {arch} checkpoint {path.name}", origin=origin,
            checkpoint_file=path.name, checksums=checksums, architecture=arch,
            preprocessing=(entry.preprocessing if entry and entry.preprocessing else DEFAULT_PREPROCESSING),
            notice=entry.notice if entry else None, licence=entry.licence if entry else None,
            verify_fn=verify_fn, versions=versions)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not args.no_optimize:
        print("optimizing the encoder for onnxruntime (medicosam optimize)...")
        _, message = optimize_folder(out)
        print(message)
    print(f"\nwrote {out}")
    print(f"  encoder.onnx sha256 {manifest['encoder']['sha256']}")
    print(f"  decoder.onnx sha256 {manifest['decoder']['sha256']}")
    print(f"  checkpoint {', '.join(f'{k} {v}' for k, v in sorted(checksums.items()))}")
    in_cache = out.parent == models_cache_dir().resolve() and entry is not None
    ref = f'"{name}"' if in_cache else f'"{out}"'
    print(f"next: loadModel({ref}) in a notebook, or: medicosam quantize {name if in_cache else out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ExportError, ChecksumError, ckpt.CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
