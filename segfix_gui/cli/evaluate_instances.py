"""``segfix evaluate-instances``: official Cityscapes AP / AP50, Boundary AP, per-instance boundary
figures."""

from __future__ import annotations

from ._common import add_boundary_tol, add_workers, number, unit_float


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate-instances",
        help="AP of instance predictions (and refined ones)",
        description="AP and AP50, overall and per class, by cityscapesscripts' official "
        "evalInstanceLevelSemanticLabeling, Boundary AP (the Boundary IoU paper's Cityscapes "
        "evaluation: a pair overlaps by min(mask IoU, boundary IoU)), plus the mask IoU and boundary F-score "
        "of every predicted instance to its matched ground-truth instance. "
        "Predictions (<name>_pred.txt) pair with ground truth "
        "(<name>_gtFine_instanceIds.png) by name.",
    )
    p.add_argument(
        "--gt", required=True, metavar="DIR", help="ground truth (*_gtFine_instanceIds.png, searched recursively)"
    )
    p.add_argument("--pred", required=True, metavar="DIR", help="instance predictions (_pred.txt)")
    p.add_argument("--refined", metavar="DIR", help="refined predictions to compare as well")
    add_boundary_tol(p)
    p.add_argument(
        "--min-iou",
        type=unit_float,
        default=0.0,
        metavar="IOU",
        help="per-instance figures: a prediction is matched to the ground-truth "
        "instance of its class with the highest mask IoU above this "
        "(default: 0, any overlap); the official AP does its own matching",
    )
    p.add_argument(
        "--dilation-ratio",
        type=number(0, 1, low_open=True),
        default=0.005,
        metavar="R",
        help="Boundary AP: boundary band width as a fraction of the image diagonal (default: 0.005, the "
        "Boundary IoU authors' value for Cityscapes)",
    )
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    add_workers(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ._instance_eval import evaluate_instance_folders

    return evaluate_instance_folders(
        gt=args.gt,
        pred=args.pred,
        refined=args.refined,
        boundary_tol=args.boundary_tol,
        min_iou=args.min_iou,
        workers=args.workers,
        json_path=args.json,
        dilation_ratio=args.dilation_ratio,
    )
