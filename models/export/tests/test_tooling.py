"""Unit tests of the export tooling that need no PyTorch: checksums, verified downloads,
checkpoint key handling, the registry, model.json, micro_sam's uint8 conversion.

    python3 -m unittest discover -s models/export/tests -v
"""

import functools
import hashlib
import http.server
import json
import os
import sys
import tempfile
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medicosam_export import checksums, download  # noqa: E402
from medicosam_export.checkpoint import CheckpointError, detect_architecture, extract_state_dict  # noqa: E402
from medicosam_export.manifest import build_manifest, write_manifest  # noqa: E402
from medicosam_export.registry import (  # noqa: E402
    REGISTRY_PATH, RegistryError, load_registry, lookup, micro_sam_cached_checkpoint, models_cache_dir)

try:
    import xxhash  # noqa: F401
    HAVE_XXHASH = True
except ImportError:
    HAVE_XXHASH = False

try:
    import numpy as np
except ImportError:
    np = None


class Shape:
    """A stand-in for a tensor: extract_state_dict and detect_architecture only read .shape."""

    def __init__(self, *shape):
        self.shape = shape


class ChecksumTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "blob.bin"
        self.data = bytes(range(256)) * 50_000  # 12.8 MB: several read chunks
        self.path.write_bytes(self.data)

    def tearDown(self):
        self.dir.cleanup()

    def test_sha256_matches_hashlib(self):
        self.assertEqual(checksums.hash_file(self.path, ("sha256",))["sha256"], hashlib.sha256(self.data).hexdigest())

    @unittest.skipUnless(HAVE_XXHASH, "xxhash module not importable (Debian python3-xxhash, conda python-xxhash)")
    def test_xxh128_known_vector_and_xxh128sum(self):
        # XXH3-128 of the empty input, from the xxHash reference implementation.
        self.assertEqual(checksums.hash_chunks([b""], ("xxh128",))["xxh128"], "99aa06d3014798d86001c324468d497f")
        if not checksums.xxh128_command_available():
            self.skipTest("xxh128sum not installed (Debian package xxhash)")
        # The command micro_sam's authors name for making their registry checksums.
        self.assertEqual(checksums.hash_file(self.path, ("xxh128",))["xxh128"], checksums.xxh128_by_command(self.path))

    def test_parse_expected_and_verify(self):
        self.assertEqual(checksums.parse_expected("xxh128:ABCD"), ("xxh128", "abcd"))
        self.assertEqual(checksums.parse_expected("a" * 64), ("sha256", "a" * 64))
        with self.assertRaisesRegex(checksums.ChecksumError, "xxh128 is 1+ but the registry says 2+"):
            checksums.verify({"xxh128": "1" * 32}, {"xxh128": "2" * 32}, "f")
        with self.assertRaisesRegex(checksums.ChecksumError, "nothing to verify"):
            checksums.verify({"sha256": "x"}, {"sha256": None, "xxh128": None}, "f")
        checksums.verify({"sha256": "ab"}, {"sha256": "AB", "xxh128": None}, "f")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class DownloadTests(unittest.TestCase):
    """A real HTTP server on the loopback interface serves the files."""

    @classmethod
    def setUpClass(cls):
        cls.served = tempfile.TemporaryDirectory()
        cls.payload = os.urandom(3_000_000)
        Path(cls.served.name, "weights.pth").write_bytes(cls.payload)
        handler = functools.partial(QuietHandler, directory=cls.served.name)
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}/weights.pth"
        cls.sha = hashlib.sha256(cls.payload).hexdigest()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.served.cleanup()

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.dest = Path(self.dir.name) / "ckpt" / "weights.pth"

    def tearDown(self):
        self.dir.cleanup()

    def test_download_verifies_and_renames(self):
        got = download.download(self.url, self.dest, {"sha256": self.sha, "xxh128": None})
        self.assertEqual(got["sha256"], self.sha)
        self.assertEqual(self.dest.read_bytes(), self.payload)
        self.assertFalse(self.dest.with_name("weights.pth.part").exists())

    def test_wrong_checksum_leaves_nothing_behind(self):
        with self.assertRaisesRegex(checksums.ChecksumError, "corrupt, truncated or a different version"):
            download.download(self.url, self.dest, {"sha256": "0" * 64})
        self.assertFalse(self.dest.exists())
        self.assertFalse(self.dest.with_name("weights.pth.part").exists())

    def test_existing_verified_copy_is_reused_and_a_bad_one_replaced(self):
        other = Path(self.dir.name) / "micro_sam_cache" / "vit_b"
        other.parent.mkdir(parents=True)
        other.write_bytes(self.payload)
        path, _ = download.fetch_checkpoint("http://127.0.0.1:9/never-contacted", self.dest, {"sha256": self.sha}, [other])
        self.assertEqual(path, other)
        self.dest.parent.mkdir(parents=True)
        self.dest.write_bytes(b"truncated")
        path, got = download.fetch_checkpoint(self.url, self.dest, {"sha256": self.sha}, [])
        self.assertEqual(path, self.dest)
        self.assertEqual(self.dest.read_bytes(), self.payload)


class CheckpointTests(unittest.TestCase):
    def test_plain_state_dict_passes_through(self):
        state = {"image_encoder.patch_embed.proj.weight": Shape(768, 3, 16, 16), "mask_decoder.x": Shape(1)}
        self.assertEqual(list(extract_state_dict(state)), list(state))

    def test_training_checkpoint_prefixes_are_stripped_and_extras_dropped(self):
        obj = {"model_state": {"sam.image_encoder.a": Shape(1), "module.sam.prompt_encoder.b": Shape(1),
                               "module.mask_decoder.c": Shape(1), "decoder.unetr.d": Shape(1)},
               "optimizer_state": {}}
        self.assertEqual(list(extract_state_dict(obj)), ["image_encoder.a", "prompt_encoder.b", "mask_decoder.c"])

    def test_not_sam(self):
        with self.assertRaisesRegex(CheckpointError, "no SAM weights.*first keys are: conv1.weight"):
            extract_state_dict({"conv1.weight": Shape(1)})
        with self.assertRaisesRegex(CheckpointError, "not a state dict"):
            extract_state_dict([1, 2])

    def test_architecture_from_the_patch_embedding_width(self):
        for dim, arch in ((768, "vit_b"), (1024, "vit_l"), (1280, "vit_h")):
            self.assertEqual(detect_architecture({"image_encoder.patch_embed.proj.weight": Shape(dim, 3, 16, 16)}), arch)
        with self.assertRaisesRegex(CheckpointError, "width 384"):
            detect_architecture({"image_encoder.patch_embed.proj.weight": Shape(384, 3, 16, 16)})


class RegistryTests(unittest.TestCase):
    def test_known_names_and_micro_sam_checksums(self):
        entries = load_registry()
        self.assertEqual(lookup(entries, "vit_b_medical_imaging").name, "medicosam")
        self.assertEqual(lookup(entries, "medicosam").checkpoint.xxh128, "40169f1e3c03a4b67bff58249c176d92")
        self.assertEqual(lookup(entries, "medicosam").checkpoint.micro_sam_model_type, "vit_b_medical_imaging")
        self.assertIsNone(lookup(entries, "medsam").checkpoint.url)
        self.assertTrue(lookup(entries, "demo").shipped)

    def test_refuses_a_download_without_checksum(self):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "r.json"
            p.write_text(json.dumps({"models": {"x": {"title": "X", "checkpoint": {"url": "http://x", "file": "x"}}}}))
            with self.assertRaisesRegex(RegistryError, "no checksum"):
                load_registry(p)

    def test_cache_dirs(self):
        self.assertEqual(models_cache_dir({"MEDICOSAM_MODELS_DIR": "/m"}, "/h", "linux"), Path("/m").resolve())
        self.assertEqual(models_cache_dir({"XDG_CACHE_HOME": "/x"}, "/h", "linux"), Path("/x/medicosam/models"))
        self.assertEqual(models_cache_dir({}, "/h", "linux"), Path("/h/.cache/medicosam/models"))
        self.assertEqual(micro_sam_cached_checkpoint("vit_b", {"MICROSAM_CACHEDIR": "/c"}), Path("/c/models/vit_b"))
        self.assertTrue(REGISTRY_PATH.is_file())


class ManifestTests(unittest.TestCase):
    io_enc = {"opset": 17, "inputs": [{"name": "image", "type": "float", "shape": [1, 3, 1024, 1024]}],
              "outputs": [{"name": "image_embeddings", "type": "float", "shape": [1, 256, 64, 64]}]}

    def io_dec(self, masks):
        return {"opset": 17, "inputs": [], "outputs": [{"name": "iou_predictions", "type": "float", "shape": [1, masks]}]}

    def test_fields_the_typescript_side_reads(self):
        m = build_manifest(name="medicosam", title="T", checkpoint_origin="https://x/y", checkpoint_file="y.pt",
                           checkpoint_checksums={"xxh128": "a" * 32, "sha256": "b" * 64}, encoder_sha256="c" * 64,
                           decoder_sha256="d" * 64, encoder_io=self.io_enc, decoder_io=self.io_dec(4))
        self.assertEqual(m["encoder"], {"file": "encoder.onnx", "sha256": "c" * 64, "input": "image", "output": "image_embeddings"})
        self.assertEqual(m["decoder"], {"file": "decoder.onnx", "sha256": "d" * 64, "numMasks": 4})
        self.assertIn("xxh128 " + "a" * 32, m["source"])
        self.assertEqual(m["preprocessing"]["pixelStd"], [58.395, 57.12, 57.375])
        with tempfile.TemporaryDirectory() as d:
            path = write_manifest(Path(d), m)
            self.assertEqual(json.loads(path.read_text()), m)
            self.assertEqual(sorted(os.listdir(d)), ["model.json"])

    def test_refuses_a_decoder_with_an_unexpected_mask_count(self):
        with self.assertRaisesRegex(ValueError, "expected \\[1, 4\\]"):
            build_manifest(name="n", title="T", checkpoint_origin="o", checkpoint_file="f", checkpoint_checksums={},
                           encoder_sha256="", decoder_sha256="", encoder_io=self.io_enc, decoder_io=self.io_dec(3))


@unittest.skipIf(np is None, "numpy not importable (Debian python3-numpy)")
class MicroSamUint8Tests(unittest.TestCase):
    def test_per_channel_minmax_truncated(self):
        from medicosam_export.verify import micro_sam_uint8

        gray = np.array([[0, 1000], [250, 500]], dtype=np.uint16)
        out = micro_sam_uint8(gray)
        self.assertEqual(out.shape, (2, 2, 3))
        # (x - 0) / (1000 + 1e-7) * 255 truncated; in float32 1000 + 1e-7 == 1000, so the max maps to 255.
        self.assertEqual(out[..., 0].tolist(), [[0, 255], [63, 127]])
        self.assertTrue((out[..., 0] == out[..., 2]).all())
        rgb = np.zeros((1, 2, 3), np.uint8)
        rgb[0, 1] = (10, 20, 30)
        rgb[0, 0] = (5, 20, 0)
        # Per channel: R 5..10, G constant 20 (-> 0), B 0..30.
        self.assertEqual(micro_sam_uint8(rgb)[0].tolist(), [[0, 0, 0], [255, 0, 255]])
        small = np.array([[0.0, 1e-7]], np.float32)  # a range the epsilon does matter for
        self.assertEqual(micro_sam_uint8(small)[0, :, 0].tolist(), [0, 127])


@unittest.skipIf(np is None, "numpy not importable (Debian python3-numpy)")
class PromptEncodingTests(unittest.TestCase):
    """The ONNX prompt encoding of the export check (docs/inference.md §2), against hand values."""

    class Transform:
        """ResizeLongestSide.apply_coords for 320x384 -> 853x1024: x * 1024/384, y * 853/320."""

        def apply_coords(self, coords, original_size):
            h, w = original_size
            out = np.array(coords, dtype=np.float64)
            out[:, 0] *= 1024 / w
            out[:, 1] *= 853 / h
            return out

    def test_points_get_a_padding_point_boxes_do_not(self):
        from medicosam_export.verify import onnx_prompt

        coords, labels = onnx_prompt({"points": [{"x": 192, "y": 160, "positive": True}, {"x": 0, "y": 0, "positive": False}]},
                                     self.Transform(), (320, 384))
        self.assertEqual(coords.shape, (1, 3, 2))
        self.assertEqual(labels.tolist(), [[1.0, 0.0, -1.0]])
        self.assertAlmostEqual(float(coords[0, 0, 0]), 512.0, places=4)
        self.assertAlmostEqual(float(coords[0, 0, 1]), 426.5, places=4)
        coords, labels = onnx_prompt({"box": {"x0": 0, "y0": 0, "x1": 384, "y1": 320},
                                      "points": [{"x": 10, "y": 20, "positive": True}]}, self.Transform(), (320, 384))
        self.assertEqual(labels.tolist(), [[1.0, 2.0, 3.0]])  # points first, then the corners, no padding
        self.assertEqual(coords[0, 2].tolist(), [1024.0, 853.0])

    def test_micro_sam_token_rule(self):
        from medicosam_export.verify import micro_sam_token

        ious = np.array([0.9, 0.5, 0.8, 0.8])
        self.assertEqual(micro_sam_token({"points": [{"x": 1, "y": 1, "positive": True}]}, ious), 2)  # first of the tie
        self.assertEqual(micro_sam_token({"points": [{"x": 1, "y": 1, "positive": False}]}, ious), 0)
        self.assertEqual(micro_sam_token({"box": {"x0": 0, "y0": 0, "x1": 1, "y1": 1}}, ious), 0)
        two = {"points": [{"x": 1, "y": 1, "positive": True}, {"x": 2, "y": 2, "positive": True}]}
        self.assertEqual(micro_sam_token(two, ious), 0)


if __name__ == "__main__":
    unittest.main()
