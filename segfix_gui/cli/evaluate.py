"""``segfix evaluate``: mIoU, pixel accuracy, boundary F-score, and what refinement changed."""

from __future__ import annotations

from ._common import add_label_space, add_workers, positive_float


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="metrics of predictions (and refined predictions)",
        description="Compare predictions (and optionally refined predictions) with ground truth, paired by name.",
    )
    p.add_argument("--gt", required=True, metavar="DIR", help="ground-truth label PNGs")
    p.add_argument("--pred", required=True, metavar="DIR", help="predictions")
    p.add_argument("--refined", metavar="DIR", help="refined predictions to compare as well")
    p.add_argument(
        "--boundary-tol",
        type=positive_float,
        default=3,
        metavar="PX",
        help="boundary F-score tolerance in pixels (default: 3)",
    )
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    add_label_space(p)
    add_workers(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ._semantic_eval import evaluate_folders

    return evaluate_folders(
        gt=args.gt,
        pred=args.pred,
        refined=args.refined,
        label_space=args.label_space,
        boundary_tol=args.boundary_tol,
        workers=args.workers,
        json_path=args.json,
    )
