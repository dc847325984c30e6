"""Post a Markdown file as a pull request's comment, or update the one posted before.

    GH_TOKEN=... cnnbench comment --repo owner/name --pr 12 comparison.md

The comment holds a hidden marker (``<!-- cnnbench-review -->``) by which later runs find
and edit it through the GitHub CLI (``gh api``); a text over GitHub's 65,536 characters is
cut at a line end with a note. Needs only the standard library and ``gh``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from cnnbench import runner
from cnnbench.errors import CnnbenchError

MARKER = "<!-- cnnbench-review -->"
LIMIT = 65536  # GitHub's maximum comment body, in characters
NOTE = ("\n\n---\n**Truncated:** this comparison is longer than a GitHub comment allows; "
        "the job summary of this workflow run has all of it.\n")


def fit(text: str, limit: int = LIMIT) -> str:
    """The marker and ``text``, cut at a line end with the note when over ``limit``."""
    body = f"{MARKER}\n{text}"
    if len(body) <= limit:
        return body
    cut = body[:limit - len(NOTE)]
    return cut[:cut.rfind("\n") if "\n" in cut else len(cut)] + NOTE


def gh(*args: str) -> str:
    """Run ``gh``; its failure is a one-line error."""
    try:
        result = subprocess.run(["gh", *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise CnnbenchError("the GitHub CLI `gh` is not installed") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise CnnbenchError(f"gh {args[0]} {args[-1]} failed: "
                            f"{lines[-1] if lines else 'no output'}")
    return result.stdout


def post(repo: str, pr: int, text: str) -> str:
    """Create the comment, or update the one holding the marker; return ``created`` or
    ``updated``."""
    pages = json.loads(gh("api", "--paginate", "--slurp",
                          f"repos/{repo}/issues/{pr}/comments") or "[]")
    existing = next((c["id"] for page in pages for c in page
                     if MARKER in (c.get("body") or "")), None)
    with tempfile.TemporaryDirectory() as folder:
        payload = Path(folder) / "body.json"
        payload.write_text(json.dumps({"body": fit(text)}))
        method, where = (("POST", f"{pr}/comments") if existing is None
                         else ("PATCH", f"comments/{existing}"))
        gh("api", "--method", method, "--input", str(payload), f"repos/{repo}/issues/{where}")
    return "created" if existing is None else "updated"


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=False, prog="cnnbench comment")
    parser.add_argument("--repo", required=True, help="owner/name of the GitHub repository")
    parser.add_argument("--pr", required=True, type=int, help="pull request number")
    parser.add_argument("body", help="Markdown file to post")
    args = parser.parse_args(argv)
    try:
        text = Path(args.body).read_text()
    except OSError as err:
        raise CnnbenchError(f"{args.body}: cannot read ({err.strerror})") from None
    print(f"comment: {post(args.repo, args.pr, text)} on {args.repo}#{args.pr}")

