"""Write a Markdown review of the working tree against a base revision, for pull requests.

    make report BASE=main
    cnnbench review --base main

``<out>/review.md``: the comparison of ``cnnbench compare``, the working tree's summary,
links to its figures and ``dvc metrics diff``; ``<out>/plots/index.html``: ``dvc plots
diff``, with the Vega scripts of ``--vega-dir`` (``make vega``) or DVC's CDN ones.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from importlib import resources
from pathlib import Path

from tabulate import tabulate

from cnnbench.files import atomic_path
from cnnbench.review.compare import arguments, from_arguments
from cnnbench.review.project import dvc, resolve

VEGA_FILES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


def html_template(base: str, vega_dir: Path | None, out: Path) -> str:
    """DVC's page (page.html) with local copies of the Vega scripts when there are, else its
    CDN ones."""
    if vega_dir and all((vega_dir / f).is_file() for f in VEGA_FILES):
        (out / "vendor").mkdir(parents=True, exist_ok=True)
        for name in VEGA_FILES:
            shutil.copyfile(vega_dir / name, out / "vendor" / name)
        scripts = "\n".join(f'  <script src="vendor/{name}"></script>' for name in VEGA_FILES)
    else:
        scripts = "{scripts}"
    page = resources.files(__package__).joinpath("page.html").read_text()
    return page.format(base=html.escape(base), scripts=scripts)


def _demote(markdown: str) -> str:
    """Headings of an included document one level down, its title dropped."""
    untitled = re.sub(r"\A# .*\n?", "", markdown)
    return re.sub(r"^(#+) ", r"#\1 ", untitled, flags=re.MULTILINE).strip()


def review(base: str, out: str | os.PathLike, summary: str | os.PathLike,
           figures: str | os.PathLike, compared: str,
           vega_dir: str | os.PathLike | None = None) -> Path:
    """Write ``<out>/review.md`` (with ``compared``, the comparison's Markdown) and
    ``<out>/plots/index.html``; return the Markdown path."""
    from dvc.compare import diff_table
    from dvc.render.match import match_defs_renderers
    from dvc_render import render_html

    out = Path(out)
    short = resolve(base)[:7]
    compared = re.sub(r"^### ", "## ", compared.split("\n", 1)[1].strip(), flags=re.M)
    with dvc("metrics diff") as repo:  # as `dvc metrics diff --md`
        table = diff_table(repo.metrics.diff(a_rev=base).get("diff", {}), title="Metric",
                           precision=5, round_digits=True, a_rev=base)
    metrics = tabulate([list(row) for row in table], headers=list(table.keys()),
                       tablefmt="github", disable_numparse=True) if len(table) else ""
    with atomic_path(out) as tmp:
        tmp.mkdir()
        template = tmp / "template.html"
        template.write_text(html_template(base, Path(vega_dir) if vega_dir else None,
                                          tmp / "plots"))
        with dvc("plots diff") as repo:  # as `dvc plots diff --html-template`
            found = match_defs_renderers(data=repo.plots.diff(revs=[base]),
                                         out=str(tmp / "plots" / "static"),
                                         templates_dir=repo.plots.templates_dir)
            render_html(renderers=[r.renderer for r in found],
                        output_file=tmp / "plots" / "index.html", html_template=str(template))
        template.unlink()
        summary_md = (_demote(Path(summary).read_text()) if Path(summary).is_file()
                      else f"No summary at `{summary}`: run `dvc repro` first.")
        links = [f"- [{p.stem.replace('_', ' ')}]({os.path.relpath(p, out)})"
                 for p in sorted(Path(figures).glob("*.png"))] or [f"No figures in `{figures}`."]
        text = "\n".join([
            f"# cnnbench review: working tree against `{base}` ({short})", "",
            compared, "",
            "## Summary of the working tree", "", summary_md, "",
            "## Figures", "", *links, "",
            "## Plots", "",
            f"[plots/index.html](plots/index.html): `dvc plots diff {base}`, the validation "
            f"curves and confusion matrices of `{base}` and the working tree side by side.",
            "", "## Every metric that changed (`dvc metrics diff`)", "",
            metrics or "No metrics changed.", "",
        ])
        (tmp / "review.md").write_text(text)
    return out / "review.md"


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__, "cnnbench review",
                       {"--out": "review", "--summary": "summary", "--figures": "figures"})
    parser.add_argument("--vega-dir", default=None,
                        help="folder with vega.min.js, vega-lite.min.js and vega-embed.min.js "
                        "for an offline page (default: CDN scripts)")
    args = parser.parse_args(argv)
    paths, compared = from_arguments(args)
    path = review(args.base, paths["review"], paths["summary"], paths["figures"], compared,
                  args.vega_dir)
    print(f"review: {path} and {Path(paths['review']) / 'plots' / 'index.html'}")
