"""torch -> ONNX for the two halves of SAM, in the layout the TypeScript engine expects
(docs/inference.md §2):

- encoder.onnx: `sam.image_encoder` alone. Input `image` [1,3,1024,1024], already normalized
  and zero-padded (the engine's preprocess does that, as SamPredictor does); output
  `image_embeddings` [1,256,64,64]. No dynamic axes: the batch is 1.
- decoder.onnx: segment_anything's SamOnnxModel with return_single_mask=False (all 4 masks;
  the engine applies micro_sam's choice), the official input/output names and the official
  dynamic axis on the number of points. The mask postprocessing (upscale, crop, resize to
  orig_im_size) is inside the graph.

Both at opset 17 with the TorchScript exporter (what SamOnnxModel was written for)."""

import inspect
import warnings
from pathlib import Path

OPSET = 17
ENCODER_INPUT = "image"
ENCODER_OUTPUT = "image_embeddings"
DECODER_INPUTS = ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"]
DECODER_OUTPUTS = ["masks", "iou_predictions", "low_res_masks"]
DECODER_DYNAMIC_AXES = {"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}
TWO_GB = 2 * 1024 ** 3


def _export(module, args, path: Path, **kwargs) -> None:
    import torch

    options = dict(export_params=True, verbose=False, opset_version=OPSET, do_constant_folding=True, **kwargs)
    # torch >= 2.9 defaults to the dynamo exporter; SamOnnxModel is written for the TorchScript one.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        torch.onnx.export(module, args, str(path), **options)


def export_encoder(image_encoder, path: Path, image_size: int = 1024) -> None:
    import torch

    n_params = sum(p.numel() for p in image_encoder.parameters())
    if n_params * 4 > TWO_GB * 0.95:
        raise ValueError(
            f"the image encoder has {n_params:,} parameters ({n_params * 4 / 1e9:.1f} GB as float32): over ONNX's 2 GB "
            "single-file limit. Only ViT-B and ViT-L fit; MedicoSAM, SAM ViT-B and MedSAM are ViT-B.")
    image_encoder.eval()
    dummy = torch.randn(1, 3, image_size, image_size, dtype=torch.float32)
    with torch.no_grad():
        _export(image_encoder, (dummy,), path, input_names=[ENCODER_INPUT], output_names=[ENCODER_OUTPUT])


def decoder_dummy_inputs(embed_dim: int = 256, embed_size=(64, 64), mask_size=(256, 256)):
    """The official exporter's example inputs (5 points, a mask, an odd image size)."""
    import torch

    g = torch.Generator().manual_seed(0)
    return {
        "image_embeddings": torch.randn(1, embed_dim, *embed_size, generator=g),
        "point_coords": torch.randint(0, 1024, (1, 5, 2), generator=g).float(),
        "point_labels": torch.randint(0, 4, (1, 5), generator=g).float(),
        "mask_input": torch.randn(1, 1, *mask_size, generator=g),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
        "orig_im_size": torch.tensor([1500, 2250], dtype=torch.float),
    }


def export_decoder(onnx_decoder, path: Path, dummy_inputs=None) -> None:
    """`onnx_decoder` is SamOnnxModel(sam, return_single_mask=False) (or anything with its forward)."""
    import torch

    onnx_decoder.eval()
    inputs = dummy_inputs or decoder_dummy_inputs()
    with torch.no_grad():
        onnx_decoder(**inputs)  # fail here, in Python, rather than inside the tracer
        _export(onnx_decoder, tuple(inputs[k] for k in DECODER_INPUTS), path,
                input_names=DECODER_INPUTS, output_names=DECODER_OUTPUTS, dynamic_axes=DECODER_DYNAMIC_AXES)


def describe_io(path: Path) -> dict:
    """Input/output names, element types and shapes as written in the file (for model.json)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)

    def values(vs):
        out = []
        for v in vs:
            t = v.type.tensor_type
            shape = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
            out.append({"name": v.name, "type": onnx.TensorProto.DataType.Name(t.elem_type).lower(), "shape": shape})
        return out

    init = {i.name for i in model.graph.initializer}
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return {"opset": opset, "inputs": values(v for v in model.graph.input if v.name not in init),
            "outputs": values(model.graph.output)}
