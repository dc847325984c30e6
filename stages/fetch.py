"""Stage `fetch`: copy or download CIFAR-10 from `data.source` into a fresh folder.

`data.source` (params.yaml) is an http(s) URL or a local path to the official python
tarball, or to image-folder data (a folder or .tar/.tar.gz/.zip archive). A relative path
is read from the project root (`$DVC_ROOT`, which DVC sets; else the current folder), also
in queued experiments, which run in a temporary clone. Example:

    python stages/fetch.py --out data/raw
"""

import os

from cnnbench import runner


def main(argv=None):
    parser = runner.parser(__doc__)
    parser.add_argument("--out", required=True, help="folder to create with the fetched source")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params
    from cnnbench.data.fetch import fetch

    params = load_params(args.params)
    # DVC_ROOT: the project's root, which DVC sets for every stage; in a queued experiment
    # it is the original project, not the temporary clone the stage runs in, so that a
    # relative data.source such as ../shared/data/... still points where the user meant.
    path = fetch(params.data.source, args.out, relative_to=os.environ.get("DVC_ROOT"))
    print(f"fetch: {params.data.source} -> {path}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
