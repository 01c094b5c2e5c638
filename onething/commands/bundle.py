"""`onething bundle CATALOG.jsonl (--bundle ID | --items CODE,…) --region CODE [--answers Q=A,…]
[--json | --html]` (§5).

Exit 0 with the workflow, 1 with the error object when bundling is
impossible (an unknown question or answer among them: UNKNOWN_ANSWER), 2
when the file cannot be read, the catalog has error findings (bundling an
invalid catalog would give answers nobody can trust) or `--answers` is not
a list of `question=answer`.
"""

from __future__ import annotations

import argparse
import sys

SHOWN_FINDINGS = 20
"""Error findings printed before the count of the rest."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bundle",
        help="compose a 'one thing, one visit' workflow (一件事一次办) with the fewest materials",
        description=(
            "Compose the workflow of a bundle or a list of items for an applicant's region: "
            "steps by stage, the exact fewest materials, waivers, one merged form, before → after metrics."
        ),
    )
    parser.add_argument("catalog", metavar="CATALOG.jsonl", help="the catalog file (JSON Lines)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--bundle", metavar="ID", help="a bundle (一件事) of the catalog")
    which.add_argument(
        "--items", metavar="CODE,CODE,…", help="item codes to handle together, comma-separated"
    )
    parser.add_argument("--region", metavar="CODE", required=True, help="the applicant's region (GB/T 2260)")
    parser.add_argument(
        "--answers",
        metavar="Q=A,Q=A",
        default="",
        help="the applicant's situation (情形): answers to the catalog's questions, comma-separated",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the workflow document (§4) as JSON")
    output.add_argument("--html", action="store_true", help="print the citizen's printable guide and form")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import msgspec

    from bundler import BundleError, compose, compose_bundle, render_guide, summary_text
    from catalog.validate import load_file

    answers = parse_answers(args.answers)
    if answers is None:
        print(
            f"onething bundle: --answers {args.answers!r} is not a list of question=answer, comma-separated",
            file=sys.stderr,
        )
        return 2
    try:
        catalog, report = load_file(args.catalog)
    except OSError as exc:
        print(f"onething bundle: cannot read {args.catalog}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not report.ok:
        errors = [f for f in report.findings if f.severity == "error"]
        print(f"onething bundle: {args.catalog} is not a valid catalog:", file=sys.stderr)
        for f in errors[:SHOWN_FINDINGS]:
            where = f"line {f.line}" if f.line is not None else "no line"
            print(f"  {f.rule}  {where}  {f.kind} {f.key or ''} — {f.message}", file=sys.stderr)
        if len(errors) > SHOWN_FINDINGS:
            print(f"  … and {len(errors) - SHOWN_FINDINGS} more", file=sys.stderr)
        print(f"{report.summary.errors} errors, {report.summary.warnings} warnings", file=sys.stderr)
        return 2
    try:
        if args.bundle is not None:
            workflow = compose_bundle(catalog, args.bundle, args.region, answers=answers)
        else:
            items = [code.strip() for code in args.items.split(",") if code.strip()]
            workflow = compose(catalog, items, args.region, answers=answers)
    except BundleError as exc:
        if args.json:
            sys.stdout.buffer.write(msgspec.json.encode(exc.problem) + b"\n")
        else:
            print(f"{exc.problem.error}: {exc.problem.message}")
        return 1
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(workflow) + b"\n")
    elif args.html:
        sys.stdout.write(render_guide(workflow, catalog))
    else:
        sys.stdout.write(summary_text(workflow, catalog))
    return 0


def parse_answers(text: str) -> dict[str, str] | None:
    """`Q=A,Q=A` as a dict; None when a part is not `question=answer` or a question comes twice."""
    answers: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        question, sep, answer = part.partition("=")
        question, answer = question.strip(), answer.strip()
        if not sep or not question or not answer or question in answers:
            return None
        answers[question] = answer
    return answers
