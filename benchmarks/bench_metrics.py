"""Benchmark of the evaluation metrics at Cityscapes resolution (docs/method.md §5.1, §5.2, §5.4).

On the same synthetic 1024×2048 label maps (street-like bands and polygons of all 19 classes,
an ignored strip at the bottom, a prediction warped by a smooth displacement of a few pixels
plus false blobs) it times

- the boundary F-score for GSCNN's three thresholds: the literal skimage reference
  (:mod:`basnet_lib.metrics.reference`) against the fast sparse path, and the dense torch path
  (on CUDA when there is one), checking the F values are identical;
- the mIoU confusion-matrix update against cityscapesscripts' ``evaluateImgLists`` on the same
  images written as labelId PNGs;
- Boundary IoU at the standard band (d = 46 px at 1024×2048): the literal per-class OpenCV erosion
  (:func:`basnet_lib.metrics.reference.reference_boundary_iou_counts`) against the library's one
  pass, on one thread each, checking the counts are identical (docs/method.md §5.4).

Times are medians over images (the machine may be shared). Prints a table and writes
``results/benchmarks/metrics.json``::

    python benchmarks/bench_metrics.py                      # ~1 min on 2 cores
    python benchmarks/bench_metrics.py --reference-images 1 --images 4
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from basnet_lib.engine.runtime import system_info
from basnet_lib.metrics import (
    GSCNN_THRESHOLDS,
    ConfusionMatrix,
    boundary_fscores,
    boundary_radii,
    evaluate_with_cityscapesscripts,
    train_ids_to_label_ids,
)
from basnet_lib.metrics.boundary_iou import BOUNDARY_IOU_BANDS, band_width, boundary_iou_counts
from basnet_lib.metrics.reference import reference_boundary_fscores, reference_boundary_iou_counts

# Street-like layout: sky, building, road bands, then objects of every class on top.
SKY, BUILDING, ROAD = 10, 2, 0


def street_labels(rng: np.random.Generator, *, height: int, width: int, num_shapes: int = 120) -> np.ndarray:
    """A uint8 trainId map: horizontal bands, random polygons of all 19 classes, void bottom strip."""
    labels = np.full((height, width), ROAD, dtype=np.uint8)
    labels[: height // 3] = SKY
    labels[height // 3 : height // 2] = BUILDING
    scale = min(height, width) / 1024
    for _ in range(num_shapes):
        corners = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
        radii = rng.integers(10, 200) * scale * rng.uniform(0.4, 1.0, corners)
        center = rng.integers(0, (width, height))
        points = np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(labels, [points.astype(np.int32)], int(rng.integers(0, 19)))
    labels[int(height * 0.9) :] = 255  # ego vehicle
    return labels


def perturbed_prediction(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """The labels warped by a smooth random displacement (std 3 px) plus 30 wrong blobs."""
    height, width = labels.shape
    shift_y, shift_x = (
        cv2.resize(rng.normal(0, 3, (8, 16)).astype(np.float32), (width, height)) for _ in range(2)
    )
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    pred = cv2.remap(
        labels, grid_x + shift_x, grid_y + shift_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE
    )
    pred[pred == 255] = ROAD
    for _ in range(30):
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(pred, center, int(rng.integers(3, 30)), int(rng.integers(0, 19)), thickness=-1)
    return pred


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def peak_traced_mib(function: Callable[[], object]) -> float:
    """Peak of Python/numpy allocations (tracemalloc) while ``function`` runs, MiB."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def bench_fscore(pairs, *, reference_images: int, dense_images: int) -> dict[str, object]:
    height, width = pairs[0][1].shape
    radii = boundary_radii(GSCNN_THRESHOLDS, height=height, width=width)
    fast_seconds, fast_scores = [], []
    for pred, gt in pairs:
        seconds, scores = timed(
            lambda pred=pred, gt=gt: boundary_fscores(pred, gt, radii=radii, method="sparse")
        )
        fast_seconds.append(seconds)
        fast_scores.append(scores.numpy())
    reference_seconds, identical = [], True
    for index, (pred, gt) in enumerate(pairs[:reference_images]):
        seconds, expected = timed(lambda pred=pred, gt=gt: reference_boundary_fscores(pred, gt, radii=radii))
        reference_seconds.append(seconds)
        identical &= bool(np.array_equal(expected, fast_scores[index]))
    dense_device = "cuda" if torch.cuda.is_available() else "cpu"
    dense_seconds = []
    for pred, gt in pairs[:dense_images]:
        pred_t, gt_t = torch.from_numpy(pred).to(dense_device), torch.from_numpy(gt).to(dense_device)
        boundary_fscores(pred_t[:64, :64], gt_t[:64, :64], radii=radii, method="dense")  # warm-up
        if dense_device == "cuda":
            torch.cuda.synchronize()
        seconds, scores = timed(
            lambda p=pred_t, g=gt_t: boundary_fscores(p, g, radii=radii, method="dense").cpu()
        )
        dense_seconds.append(seconds)
        identical &= bool(np.array_equal(scores.numpy(), fast_scores[len(dense_seconds) - 1]))
    pred, gt = pairs[0]
    fast_peak = peak_traced_mib(lambda: boundary_fscores(pred, gt, radii=radii, method="sparse"))
    # Medians: the machine may be shared, and a median is robust to a stolen time slice.
    reference_per_image = float(np.median(reference_seconds))
    fast_per_image = float(np.median(fast_seconds))
    return {
        "image_size": [height, width],
        "thresholds": list(GSCNN_THRESHOLDS),
        "radii_px": list(radii),
        "reference_images": len(reference_seconds),
        "fast_images": len(fast_seconds),
        "reference_seconds_per_image": reference_per_image,
        "fast_seconds_per_image": fast_per_image,
        "fast_seconds_per_image_mean": float(np.mean(fast_seconds)),
        "fast_seconds_per_image_max": float(np.max(fast_seconds)),
        "speedup": reference_per_image / fast_per_image,
        "dense_device": dense_device,
        "dense_images": len(dense_seconds),
        "dense_seconds_per_image": float(np.median(dense_seconds)) if dense_seconds else None,
        "identical_to_reference": identical,
        "fast_peak_traced_mib": fast_peak,
        "mean_F_first_image": [float(value) for value in fast_scores[0].mean(axis=1)],
    }


def bench_miou(pairs, *, folder: Path) -> dict[str, object]:
    confusion = ConfusionMatrix()
    ours_seconds = []
    for pred, gt in pairs:
        pred_t, gt_t = torch.from_numpy(pred)[None], torch.from_numpy(gt)[None]
        ours_seconds.append(timed(lambda p=pred_t, g=gt_t: confusion.update(p, g))[0])
    prediction_files, ground_truth_files = [], []
    for index, (pred, gt) in enumerate(pairs):
        stem = f"bench_{index:06d}_000019"
        prediction_files.append(folder / f"{stem}_leftImg8bit.png")
        ground_truth_files.append(folder / f"{stem}_gtFine_labelIds.png")
        Image.fromarray(train_ids_to_label_ids(pred)).save(prediction_files[-1])
        Image.fromarray(train_ids_to_label_ids(gt)).save(ground_truth_files[-1])
    # cityscapesscripts reads files (its only interface): time it per image, and decoding alone.
    official_seconds, decode_seconds = [], []
    for prediction_file, ground_truth_file in zip(prediction_files, ground_truth_files, strict=True):
        decode_seconds.append(
            timed(
                lambda a=prediction_file, b=ground_truth_file: [
                    np.array(Image.open(a)),
                    np.array(Image.open(b)),
                ]
            )[0]
        )
        official_seconds.append(
            timed(
                lambda a=prediction_file, b=ground_truth_file: evaluate_with_cityscapesscripts(
                    prediction_files=[a], ground_truth_files=[b]
                )
            )[0]
        )
    official = evaluate_with_cityscapesscripts(
        prediction_files=prediction_files, ground_truth_files=ground_truth_files
    )
    ours = confusion.scores().mean_iou
    return {
        "images": len(pairs),
        "ours_seconds_per_image": float(np.median(ours_seconds)),
        "cityscapesscripts_seconds_per_image": float(np.median(official_seconds)),
        "png_decode_seconds_per_image": float(np.median(decode_seconds)),
        "speedup": float(np.median(official_seconds) / np.median(ours_seconds)),
        "mIoU_ours": ours,
        "mIoU_cityscapesscripts": official["averageScoreClasses"],
        "abs_difference": abs(ours - official["averageScoreClasses"]),
    }


def bench_boundary_iou(pairs, *, reference_images: int) -> dict[str, object]:
    """Seconds per image of the literal reference and the library at the standard band, one thread."""
    height, width = pairs[0][1].shape
    pixels = band_width(BOUNDARY_IOU_BANDS[0], height=height, width=width)
    threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        fast, identical = [], True
        for pred, gt in pairs:
            seconds, _ = timed(lambda p=pred, g=gt: boundary_iou_counts(torch.from_numpy(p), torch.from_numpy(g),
                                                                         pixels=(pixels,)))  # fmt: skip
            fast.append(seconds)
        reference = []
        for pred, gt in pairs[:reference_images]:
            seconds, expected = timed(lambda p=pred, g=gt: reference_boundary_iou_counts(p, g, pixels=pixels,
                                                                                        num_classes=19))  # fmt: skip
            reference.append(seconds)
            intersection, union = boundary_iou_counts(torch.from_numpy(pred), torch.from_numpy(gt), pixels=(pixels,))
            identical &= intersection[0].tolist() == expected[0].tolist() and union[0].tolist() == expected[1].tolist()
    finally:
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])
    reference_seconds, fast_seconds = float(np.median(reference)), float(np.median(fast))
    return {
        "band_fraction": BOUNDARY_IOU_BANDS[0],
        "band_px": pixels,
        "threads": 1,
        "reference_seconds_per_image": reference_seconds,
        "fast_seconds_per_image": fast_seconds,
        "speedup": reference_seconds / fast_seconds,
        "identical_to_reference": identical,
        "reference_images": reference_images,
        "images": len(pairs),
    }


def print_table(fscore: dict, miou: dict, boundary_iou: dict) -> None:
    rows = [
        ("F-score reference (skimage), s/image", f"{fscore['reference_seconds_per_image']:.3f}"),
        ("F-score fast (sparse numpy), s/image", f"{fscore['fast_seconds_per_image']:.4f}"),
        ("F-score speed-up", f"{fscore['speedup']:.0f}x"),
        (
            f"F-score dense torch ({fscore['dense_device']}), s/image",
            _format(fscore["dense_seconds_per_image"]),
        ),
        ("F-score identical to reference", str(fscore["identical_to_reference"])),
        ("F-score fast peak traced memory, MiB", f"{fscore['fast_peak_traced_mib']:.1f}"),
        ("mIoU ours (confusion update), s/image", f"{miou['ours_seconds_per_image']:.4f}"),
        ("mIoU cityscapesscripts (from PNGs), s/image", f"{miou['cityscapesscripts_seconds_per_image']:.4f}"),
        ("  of which PNG decoding, s/image", f"{miou['png_decode_seconds_per_image']:.4f}"),
        ("mIoU |ours - cityscapesscripts|", f"{miou['abs_difference']:.2e}"),
        (f"Boundary IoU reference (OpenCV, d={boundary_iou['band_px']}), s/image",
         f"{boundary_iou['reference_seconds_per_image']:.3f}"),
        ("Boundary IoU fast (one pass), s/image", f"{boundary_iou['fast_seconds_per_image']:.4f}"),
        ("Boundary IoU speed-up (one thread each)", f"{boundary_iou['speedup']:.1f}x"),
        ("Boundary IoU identical to reference", str(boundary_iou["identical_to_reference"])),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    size = "x".join(str(n) for n in fscore["image_size"])
    print(f"metrics benchmark at {size}, thresholds {fscore['thresholds']} -> radii {fscore['radii_px']} px")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _format(seconds: float | None) -> str:
    return "not run" if seconds is None else f"{seconds:.3f}"


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--images", type=int, default=10, help="images for the fast F-score and mIoU")
    parser.add_argument("--reference-images", type=int, default=2, help="images for the slow reference")
    parser.add_argument("--dense-images", type=int, default=1, help="images for the dense torch path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/metrics.json"))
    args = parser.parse_args(argv)
    rss_after_imports = _max_rss_mib()
    if not 1 <= args.reference_images <= args.images or args.dense_images > args.images:
        parser.error("need 1 <= --reference-images <= --images and --dense-images <= --images")

    rng = np.random.default_rng(args.seed)
    pairs = []
    for _ in range(args.images):
        gt = street_labels(rng, height=args.height, width=args.width)
        pairs.append((perturbed_prediction(rng, gt), gt))
    fscore = bench_fscore(pairs, reference_images=args.reference_images, dense_images=args.dense_images)
    with tempfile.TemporaryDirectory() as folder:
        miou = bench_miou(pairs, folder=Path(folder))
    boundary_iou = bench_boundary_iou(pairs, reference_images=args.reference_images)
    result = {
        "boundary_fscore": fscore,
        "miou": miou,
        "boundary_iou": boundary_iou,
        "max_rss_mib": _max_rss_mib(),
        "rss_after_imports_mib": rss_after_imports,
        "system": system_info(),
    }
    print_table(fscore, miou, boundary_iou)
    print(
        f"max RSS of the whole run: {result['max_rss_mib']:.0f} MiB "
        f"({rss_after_imports:.0f} MiB of it after imports, before any work)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
