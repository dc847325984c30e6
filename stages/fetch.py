"""Stage `fetch`: copy or download CIFAR-10 from `data.source` into a fresh folder.

`data.source` (params.yaml) is an http(s) URL or a local path to the official python
tarball, or to image-folder data (a folder or .tar/.tar.gz/.zip archive). Example:

    python stages/fetch.py --out data/raw
"""

import argparse

from cnnbench.cli import run_stage


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to create with the fetched source")
    parser.add_argument("--params", default="params.yaml",
                        help="params file (default: %(default)s)")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params
    from cnnbench.data import fetch

    params = load_params(args.params)
    path = fetch(params.data.source, args.out)
    print(f"fetch: {params.data.source} -> {path}")


if __name__ == "__main__":
    raise SystemExit(run_stage(main))
