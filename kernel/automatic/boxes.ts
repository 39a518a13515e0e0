/**
 * Boxes of masks and their bookkeeping between a crop and the image, as segment_anything's
 * `utils/amg.py` does it (`batched_mask_to_box`, `is_box_near_crop_edge`, `uncrop_boxes_xyxy`,
 * `uncrop_points`, `box_xyxy_to_xywh`).
 */
import type { BoxXyxy } from "./grid.js";

/**
 * segment_anything's `batched_mask_to_box` for one row-major mask: [left, top, right, bottom]
 * with right/bottom the last column/row that holds a pixel (inclusive), [0,0,0,0] when empty.
 */
export function maskToBox(mask: Uint8Array, width: number, height: number): BoxXyxy {
  let left = width;
  let right = -1;
  let top = height;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = -1;
    let last = -1;
    for (let x = 0; x < width; x++) {
      if (mask[row + x]) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    if (top === height) top = y;
    bottom = y;
    if (first < left) left = first;
    if (last > right) right = last;
  }
  if (right < left || bottom < top) return [0, 0, 0, 0];
  return [left, top, right, bottom];
}

/** segment_anything's `uncrop_boxes_xyxy`: crop frame -> image frame. */
export function uncropBox(box: BoxXyxy, crop: BoxXyxy): BoxXyxy {
  return [box[0] + crop[0], box[1] + crop[1], box[2] + crop[0], box[3] + crop[1]];
}

/**
 * segment_anything's `is_box_near_crop_edge` (atol 20 px): the box (crop frame) touches an
 * edge of the crop that is not an edge of the image, so the mask is probably cut by the crop.
 */
export function isBoxNearCropEdge(box: BoxXyxy, crop: BoxXyxy, image: BoxXyxy, atol = 20): boolean {
  const b = uncropBox(box, crop);
  for (let i = 0; i < 4; i++) {
    const nearCrop = Math.abs(b[i]! - crop[i]!) <= atol;
    const nearImage = Math.abs(b[i]! - image[i]!) <= atol;
    if (nearCrop && !nearImage) return true;
  }
  return false;
}

/** segment_anything's `box_xyxy_to_xywh`. */
export function boxXyxyToXywh(box: BoxXyxy): [number, number, number, number] {
  return [box[0], box[1], box[2] - box[0], box[3] - box[1]];
}
