"""A tiny stand-in for a SAM model, for testing the export plumbing where segment_anything is
not installed (it needs only PyTorch). It has SAM's interfaces, not SAM's network:

- `image_encoder`: [1,3,1024,1024] -> [1,256,64,64] (a strided conv and a nonlinearity), with
  `img_size` like segment_anything's ImageEncoderViT;
- `FakeOnnxDecoder`: SamOnnxModel's forward signature and outputs (4 masks, the official
  names), with the same in-graph postprocessing (upscale to 1024, crop to the resized size,
  resize to orig_im_size), dynamic in the number of points. Its masks depend on the embedding,
  the points and labels, and the mask input, so that a wrong wiring shows in the outputs."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class FakeImageEncoder(nn.Module):
    img_size = 1024

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 32, kernel_size=16, stride=16)
        self.mix = nn.Linear(32, 256)  # a MatMul with a constant weight, as in the ViT

    def forward(self, x):
        h = torch.tanh(self.patch(x))  # [1,32,64,64]
        h = self.mix(h.permute(0, 2, 3, 1))  # [1,64,64,256]
        return h.permute(0, 3, 1, 2)


class FakeSam(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.image_encoder = FakeImageEncoder()
        self.to_mask = nn.Conv2d(256, 4, kernel_size=1)


class FakeOnnxDecoder(nn.Module):
    def __init__(self, sam):
        super().__init__()
        self.sam = sam
        self.img_size = 1024

    def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size):
        base = F.interpolate(self.sam.to_mask(image_embeddings), size=(256, 256), mode="bilinear", align_corners=False)
        # Each point adds (label 1) or removes (label 0) a bump of radius ~8 px (256 frame); box corners add less.
        grid = (torch.arange(256, dtype=torch.float32) + 0.5) * 4.0
        dx = grid[None, None, :] - point_coords[0, :, 0][:, None, None]  # [N,1,256]
        dy = grid[None, :, None] - point_coords[0, :, 1][:, None, None]  # [N,256,1]
        bump = torch.exp(-(dx * dx + dy * dy) / (2 * 32.0 ** 2))  # [N,256,256]
        labels = point_labels[0]
        weight = (labels == 1).float() * 8.0 - (labels == 0).float() * 8.0 + (labels >= 2).float() * 3.0
        points = (bump * weight[:, None, None]).sum(0)[None, None]  # [1,1,256,256]
        offsets = torch.tensor([0.0, -2.0, 0.0, 2.0]).reshape(1, 4, 1, 1)
        low_res = base + points + offsets + has_mask_input * mask_input - 3.0
        iou = torch.sigmoid(low_res.mean(dim=(2, 3)))
        masks = F.interpolate(low_res, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False)
        size = orig_im_size.to(torch.float32)
        prepadded = torch.floor(size * (self.img_size / torch.max(size)) + 0.5).to(torch.int64)
        masks = masks[..., : prepadded[0], : prepadded[1]]
        h, w = orig_im_size.to(torch.int64)[0], orig_im_size.to(torch.int64)[1]
        masks = F.interpolate(masks, size=(h, w), mode="bilinear", align_corners=False)
        return masks, iou, low_res
