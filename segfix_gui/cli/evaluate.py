"""``segfix evaluate``: mIoU, pixel accuracy, boundary F-score, the boundary measures (boundary
IoU, the error profile by distance to the border, boundary F at several tolerances, trimap IoU)
and what refinement changed; ``--plot`` draws the profile before and after."""

from __future__ import annotations

from ._common import add_border_options, add_boundary_tol, add_label_space, add_workers, border_options_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="metrics of predictions (and refined predictions)",
        description="Compare predictions (and optionally refined predictions) with ground truth, paired by name.",
    )
    p.add_argument("--gt", required=True, metavar="DIR", help="ground-truth label PNGs")
    p.add_argument("--pred", required=True, metavar="DIR", help="predictions")
    p.add_argument("--refined", metavar="DIR", help="refined predictions to compare as well")
    add_boundary_tol(p)
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the error rate by distance to the border (and the trimap IoU), before and after refinement",
    )
    add_border_options(p)
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
        plot_path=args.plot,
        options=border_options_from_args(args),
    )
