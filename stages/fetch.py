"""Stage `fetch`: copy or download CIFAR-10 from `data.source` into a fresh folder.

`data.source` (params.yaml) is one of

- a name from the catalogue, src/cnnbench/data/catalogue.py: `cifar10` (the official
  python tarball, md5-checked) or `cifar10-jpeg` (the image-folder JPEG copy,
  sha256-checked). Its file is taken from the first folder of `CNNBENCH_DATA` that holds it
  (folders separated by `:`; relative ones read from the project root), else from the user
  cache `$XDG_CACHE_HOME/cnnbench` (default `~/.cache/cnnbench`), else downloaded into that
  cache if the catalogue lists a URL for it. The output folder holds it under the
  catalogue's file name (data/raw/cifar10-jpeg.tar.gz), where `prepare` finds it;
- an http(s) URL or a local path to the official python tarball, or to image-folder data
  (a folder or .tar/.tar.gz/.zip archive). A relative path is read from the project root.

The project root is `$DVC_ROOT`, which DVC sets (else the current folder), also in queued
experiments, which run in a temporary clone. Example:

    CNNBENCH_DATA=~/datasets python stages/fetch.py --out data/raw
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
    # relative data.source such as ../datasets/..., or a relative folder of CNNBENCH_DATA,
    # still points where the user meant.
    path = fetch(params.data.source, args.out, relative_to=os.environ.get("DVC_ROOT"))
    print(f"fetch: {params.data.source} -> {path}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
