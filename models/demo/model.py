"""The demo model: a small promptable segmenter with exactly SAM's ONNX contract.

Encoder: [1,3,1024,1024] (SAM-normalized, zero-padded) -> [1,256,64,64]. It first
average-pools 4x4 (so training runs on 256x256 inputs, which are exactly that pooling of
the 1024 input), then a small U-Net from 64x64 down to 16x16 and back. The 256 embedding channels are 192 "coarse" features
(what is where, with context) and 64 "fine" ones: a 4-channel full-resolution edge map
packed 4x4 into channels (pixel-unshuffle), which the decoder unpacks to draw sharp
boundaries at 256x256.

Decoder: SAM's inputs and outputs. Prompts are rendered as dense maps (Gaussian blobs at
the clicks, distance to the nearest positive/negative click, the box's inside and its
edges) at 64x64 and 256x256, added to the image features, and a small U-Net predicts
4 mask logits at 256x256 (the low-res masks) plus 4 IoU scores. Label -1 (padding) points
draw nothing. The 4 tokens mean, as SAM's do, different things:
  token 0: the object (single-mask output),
  token 1: the object, token 2: every structure of the object's class in the image
  (e.g. both kidneys), token 3: the whole body;
the IoU head predicts each token's IoU with the OBJECT, so micro_sam's rule (best of 1..3
for a single click) picks the object unless the click says otherwise.
Postprocessing (bilinear to 1024, crop to the resized size, bilinear to orig_im_size) is
SAM's official ONNX code, in the graph.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
COARSE = 192
FINE_CH = 4  # 4 channels x 16 (4x4 unshuffle) = 64 embedding channels


class Conv1x1(nn.Conv2d):
    """A 1x1 convolution that PyTorch runs through oneDNN.

    PyTorch 1.13 sends single-threaded 1x1 convolutions on batches under 16 to its slow
    native kernel (a second per layer for the backward pass here). A dilation, meaningless
    for a 1x1 kernel, routes them to oneDNN; ONNX keeps it as an ordinary Conv. (A matmul
    was the first fix, but Debian's OpenBLAS 0.3.21 returned NaN gradients now and then.)
    """

    def __init__(self, cin, cout, bias=True):
        super().__init__(cin, cout, 1, dilation=2, bias=bias)


def gn(c):
    return nn.GroupNorm(8 if c >= 32 else 4, c)


class ConvGN(nn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1, dilation=1):
        pad = dilation * (k // 2)
        conv = Conv1x1(cin, cout, bias=False) if k == 1 and stride == 1 else nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False)
        super().__init__(conv, gn(cout), nn.GELU())


class Res(nn.Module):
    def __init__(self, c, dilation=1):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, 1, dilation, dilation=dilation, bias=False)
        self.na = gn(c)
        self.b = nn.Conv2d(c, c, 3, 1, dilation, dilation=dilation, bias=False)
        self.nb = gn(c)

    def forward(self, x):
        y = F.gelu(self.na(self.a(x)))
        y = self.nb(self.b(y))
        return F.gelu(x + y)


def up2(x):
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class Encoder256(nn.Module):
    """[B,3,256,256] (the 4x4 average of the normalized 1024 input) -> [B,256,64,64]."""

    def __init__(self, w=(48, 64, 96)):
        super().__init__()
        c2, c3, c4 = w
        self.fine = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.GELU(), nn.Conv2d(8, FINE_CH, 3, 1, 1))
        self.unshuffle = nn.PixelUnshuffle(4)
        self.stem = nn.Sequential(nn.Conv2d(3, c2, 4, 4), gn(c2), nn.GELU(), ConvGN(c2, c2, 3))  # 64
        self.d32 = nn.Sequential(ConvGN(c2, c3, 3, 2), Res(c3))  # 32
        self.d16 = nn.Sequential(ConvGN(c3, c4, 3, 2), Res(c4, 2), Res(c4, 4))  # 16
        self.u32 = nn.Sequential(ConvGN(c4 + c3, c3, 1), Res(c3))
        self.u64 = nn.Sequential(ConvGN(c3 + c2, c2, 1), ConvGN(c2, c2, 3))
        self.head = Conv1x1(c2, COARSE)

    def forward(self, x):
        fine = self.unshuffle(self.fine(x))
        s64 = self.stem(x)
        s32 = self.d32(s64)
        s16 = self.d16(s32)
        u32 = self.u32(torch.cat([up2(s16), s32], 1))
        u64 = self.u64(torch.cat([up2(u32), s64], 1))
        return torch.cat([self.head(u64), fine], 1)


class EncoderOnnx(nn.Module):
    """The exported encoder: the 1024 input, pooled to the 256 the network was trained on."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc
        self.pool = nn.AvgPool2d(4, 4)

    def forward(self, x):
        return self.enc(self.pool(x))


def prompt_maps(coords, labels, res, sigma_cells, full=True):
    """Dense prompt maps at res x res.

    coords [M,N,2] in the 1024 frame (SAM: +0.5, /1024), labels [M,N].
    Returns [M,9,res,res]: pos blob, neg blob, pos distance, neg distance, box inside,
    4 signed distances to the box edges (0 without a box); with full=False only
    [M,3,res,res]: pos blob, neg blob, box inside.
    """
    c = (coords + 0.5) / 1024.0
    g = (torch.arange(res, dtype=coords.dtype, device=coords.device) + 0.5) / res
    px = c[:, :, 0].unsqueeze(-1).unsqueeze(-1)  # [M,N,1,1]
    py = c[:, :, 1].unsqueeze(-1).unsqueeze(-1)
    gx = g.view(1, 1, 1, res)
    gy = g.view(1, 1, res, 1)
    d2 = (gx - px) ** 2 + (gy - py) ** 2  # [M,N,res,res]
    pos = (labels == 1).to(coords.dtype).unsqueeze(-1).unsqueeze(-1)
    neg = (labels == 0).to(coords.dtype).unsqueeze(-1).unsqueeze(-1)
    s2 = 2.0 * (sigma_cells / res) ** 2
    blob = torch.exp(-d2 / s2)
    pos_blob = (blob * pos).amax(1)
    neg_blob = (blob * neg).amax(1)
    is_tl = (labels == 2).to(coords.dtype)  # [M,N]
    is_br = (labels == 3).to(coords.dtype)
    has_box = torch.clamp(is_tl.sum(1), max=1.0).view(-1, 1, 1)  # [M,1,1]
    x0 = (c[:, :, 0] * is_tl).sum(1).view(-1, 1, 1)
    y0 = (c[:, :, 1] * is_tl).sum(1).view(-1, 1, 1)
    x1 = (c[:, :, 0] * is_br).sum(1).view(-1, 1, 1)
    y1 = (c[:, :, 1] * is_br).sum(1).view(-1, 1, 1)
    gx2 = g.view(1, 1, res)
    gy2 = g.view(1, res, 1)
    ex0 = (gx2 - x0) * 8.0
    ex1 = (x1 - gx2) * 8.0
    ey0 = (gy2 - y0) * 8.0
    ey1 = (y1 - gy2) * 8.0
    k = 4.0 * res  # soft edge about a quarter cell wide
    inside = torch.sigmoid(ex0 * k / 8.0) * torch.sigmoid(ex1 * k / 8.0) * torch.sigmoid(ey0 * k / 8.0) * torch.sigmoid(ey1 * k / 8.0)
    if not full:
        return torch.stack([pos_blob, neg_blob, inside * has_box * torch.ones_like(pos_blob)], 1)
    d = torch.sqrt(d2 + 1e-8)
    big = 2.0
    pos_dist = torch.clamp((d * pos + big * (1 - pos)).amin(1), max=1.0)
    neg_dist = torch.clamp((d * neg + big * (1 - neg)).amin(1), max=1.0)
    ones = torch.ones_like(pos_blob)
    maps = [
        pos_blob,
        neg_blob,
        pos_dist * 2.0 - 1.0,
        neg_dist * 2.0 - 1.0,
        inside * has_box,
        ex0 * has_box * ones,
        ex1 * has_box * ones,
        ey0 * has_box * ones,
        ey1 * has_box * ones,
    ]
    return torch.stack(maps, 1)


def up_shuffle(cin, cout):
    """2x upsampling as a 1x1 conv to 4*cout channels + pixel shuffle (cheaper than ConvTranspose on CPU)."""
    return nn.Sequential(Conv1x1(cin, 4 * cout), nn.PixelShuffle(2), nn.GELU())


def click_similarity(feat, coords, labels, sigma_cells=0.75):
    """Cosine similarity of every location's features to those under the clicks.

    [M,C,H,W] features, clicks as in prompt_maps -> [M,2,H,W]: the best similarity to any
    positive click and to any negative click (-1 where there is none). It tells the network
    "looks like what was clicked", the cue a click carries. Element-wise ops only (no BLAS).
    """
    m, _, h, w = feat.shape
    fn = feat / torch.sqrt((feat * feat).sum(1, keepdim=True) + 1e-6)
    c = (coords + 0.5) / 1024.0
    gy = ((torch.arange(h, dtype=feat.dtype) + 0.5) / h).view(1, 1, h, 1)
    gx = ((torch.arange(w, dtype=feat.dtype) + 0.5) / w).view(1, 1, 1, w)
    d2 = (gx - c[:, :, 0].unsqueeze(-1).unsqueeze(-1)) ** 2 + (gy - c[:, :, 1].unsqueeze(-1).unsqueeze(-1)) ** 2
    wgt = torch.exp(-d2 / (2.0 * (sigma_cells / h) ** 2))
    wgt = wgt / (wgt.sum((2, 3), keepdim=True) + 1e-6)  # [M,N,H,W]
    proto = (wgt.unsqueeze(2) * fn.unsqueeze(1)).sum((3, 4))  # [M,N,C]
    proto = proto / torch.sqrt((proto * proto).sum(-1, keepdim=True) + 1e-6)
    sim = (proto.unsqueeze(-1).unsqueeze(-1) * fn.unsqueeze(1)).sum(2)  # [M,N,H,W]
    pos = (labels == 1).to(feat.dtype).unsqueeze(-1).unsqueeze(-1)
    neg = (labels == 0).to(feat.dtype).unsqueeze(-1).unsqueeze(-1)
    pos_sim = (sim * pos - 2.0 * (1 - pos)).amax(1).clamp(min=-1.0)
    neg_sim = (sim * neg - 2.0 * (1 - neg)).amax(1).clamp(min=-1.0)
    return torch.stack([pos_sim, neg_sim], 1)


class Decoder(nn.Module):
    # Added after the first training run; a run continued from it starts them at zero.
    ZERO_ON_CONTINUE = ("maps32.", "maps16.", "sim64.", "sim32.", "sim16.", "head_sim.")

    def __init__(self, w=(32, 64)):
        super().__init__()
        a, b = w
        self.proj = ConvGN(COARSE, a, 1)
        self.maps64 = Conv1x1(9 + 2, a)
        self.down32 = nn.Sequential(ConvGN(a, a, 3, 2), Res(a))
        self.down16 = nn.Sequential(ConvGN(a, b, 3, 2), Res(b, 2), Res(b, 4))
        # The prompt maps again at 32 and 16, so the deep layers see every click directly.
        self.maps32 = Conv1x1(9, a)
        self.maps16 = Conv1x1(9, b)
        # Click-feature similarity (click_similarity) at every level.
        self.simproj = Conv1x1(COARSE, 16)
        self.sim64 = Conv1x1(2, a)
        self.sim32 = Conv1x1(2, a)
        self.sim16 = Conv1x1(2, b)
        self.head_sim = Conv1x1(2, 16)
        self.up32 = nn.Sequential(ConvGN(b + a, a, 1), Res(a))
        self.up64 = nn.Sequential(ConvGN(a + a, 32, 1), ConvGN(32, 32, 3))
        self.up128 = up_shuffle(32, 16)
        self.up256 = up_shuffle(16, 8)
        self.shuffle = nn.PixelShuffle(4)
        self.head = nn.Sequential(Conv1x1(8 + FINE_CH + 3 + 1, 16), nn.GELU(), Conv1x1(16, 4))
        self.iou = nn.Sequential(nn.Linear(b + 4 * 3, 64), nn.GELU(), nn.Linear(64, 4))

    def image_features(self, emb):
        """Per-image part (computed once per image in training)."""
        coarse = emb[:, :COARSE]
        return torch.cat([self.proj(coarse), self.simproj(coarse)], 1), self.shuffle(emb[:, COARSE:])

    def forward_features(self, coarse, fine, coords, labels, mask_input, has_mask):
        """coarse [M,a+16,64,64] (projected features, similarity features), fine [M,4,256,256],
        coords [M,N,2], labels [M,N], mask_input [M,1,256,256], has_mask [M]
        -> logits [M,4,256,256], iou [M,4]."""
        coarse, simfeat = coarse[:, :-16], coarse[:, -16:]
        sims = click_similarity(simfeat, coords, labels)
        m_in = mask_input * has_mask.view(-1, 1, 1, 1)
        m_in = torch.clamp(m_in, -20.0, 20.0) / 10.0
        m64 = F.avg_pool2d(m_in, 4, 4)
        hm = has_mask.view(-1, 1, 1, 1) * torch.ones_like(m64)
        maps64 = torch.cat([prompt_maps(coords, labels, 64, 1.0), m64, hm], 1)
        h64 = coarse + self.maps64(maps64) + self.sim64(sims)
        h32 = self.down32(h64) + self.maps32(prompt_maps(coords, labels, 32, 0.75)) + self.sim32(F.avg_pool2d(sims, 2))
        h16 = self.down16(h32) + self.maps16(prompt_maps(coords, labels, 16, 0.6)) + self.sim16(F.avg_pool2d(sims, 4))
        u32 = self.up32(torch.cat([up2(h16), h32], 1))
        u64 = self.up64(torch.cat([up2(u32), h64], 1))
        u256 = self.up256(self.up128(u64))
        maps256 = prompt_maps(coords, labels, 256, 1.5, full=False)
        x = torch.cat([u256, fine, maps256, m_in], 1)
        sims256 = F.interpolate(sims, scale_factor=4.0, mode="bilinear", align_corners=False)
        logits = self.head[2](self.head[1](self.head[0](x) + self.head_sim(sims256)))
        prob = torch.sigmoid(logits)
        area = prob.mean((2, 3))
        sharp = (prob * (1 - prob)).mean((2, 3)) * 4.0
        inside_box = (prob * maps256[:, 2:3]).mean((2, 3))
        feat = torch.cat([h16.mean((2, 3)), area, sharp, inside_box], 1)
        iou = torch.sigmoid(self.iou(feat))
        return logits, iou

    def forward(self, emb, coords, labels, mask_input, has_mask):
        coarse, fine = self.image_features(emb)
        return self.forward_features(coarse, fine, coords, labels, mask_input, has_mask)


class DecoderOnnx(nn.Module):
    """SAM's decoder signature, with SAM's official postprocessing (SamOnnxModel)."""

    def __init__(self, dec):
        super().__init__()
        self.dec = dec

    @staticmethod
    def resize_longest_image_size(input_image_size, longest_side: int):
        input_image_size = input_image_size.to(torch.float32)
        scale = longest_side / torch.max(input_image_size)
        transformed_size = scale * input_image_size
        transformed_size = torch.floor(transformed_size + 0.5).to(torch.int64)
        return transformed_size

    def mask_postprocessing(self, masks, orig_im_size):
        masks = F.interpolate(masks, size=(1024, 1024), mode="bilinear", align_corners=False)
        prepadded_size = self.resize_longest_image_size(orig_im_size, 1024).to(torch.int64)
        masks = masks[..., : prepadded_size[0], : prepadded_size[1]]
        orig_im_size = orig_im_size.to(torch.int64)
        h, w = orig_im_size[0], orig_im_size[1]
        masks = F.interpolate(masks, size=(h, w), mode="bilinear", align_corners=False)
        return masks

    def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size):
        low, iou = self.dec(image_embeddings, point_coords, point_labels, mask_input, has_mask_input)
        masks = self.mask_postprocessing(low, orig_im_size)
        return masks, iou, low
