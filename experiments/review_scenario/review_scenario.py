"""The review's common case on the committed full-data results: a pull request edits one
network and reruns its seed 0; another network's code is untouched. Does `cnnbench compare`
name the edited network beyond run-to-run noise and the other within it?

Works on a throwaway clone of HEAD, so the project is never touched, and needs no trained
model: the edit is made in the network's file; the training log's code fingerprint is
recomputed the way `stages/train.py` computes it (only that file may move); the two test
accuracies are moved by the given amounts; `dvc.lock` records the file's and the changed
outputs' new hashes, as `dvc repro` would. Then `dvc repro -s plot summarise`,
a commit, `cnnbench compare --base HEAD~1` and `cnnbench gate`, whose outputs go to
--out with what was done.

    .venv/bin/python experiments/review_scenario/review_scenario.py --changed vgg16 \
        --edit 'DROPOUT = 0.2' 'DROPOUT = 0.3' --same resnet18 \
        --out experiments/review_scenario/results/vgg16-resnet18.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """``args`` in ``cwd``, with the clone's own package first on the path."""
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and done.returncode:
        sys.exit(f"review_scenario: {' '.join(args)} failed ({done.returncode}):\n"
                 f"{done.stdout}{done.stderr}")
    return done


def code_of(clone: Path, architecture: str) -> dict[str, str]:
    """The code fingerprint `stages/train.py` records for ``architecture`` in ``clone``."""
    script = ("import json, sys; from cnnbench.training.code import code_digests; "
              "print(json.dumps(code_digests('stages/train.py', sys.argv[1])))")
    return json.loads(run([sys.executable, "-c", script, architecture], clone).stdout)


def move_accuracy(clone: Path, model: str, delta: float) -> tuple[float, float]:
    """Add ``delta`` to ``metrics/<model>.json``'s test accuracy; (before, after)."""
    path = clone / "metrics" / f"{model}.json"
    metrics = json.loads(path.read_text())
    before = metrics["test"]["accuracy"]
    metrics["test"]["accuracy"] = round(before + delta, 6)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return before, metrics["test"]["accuracy"]


def record(clone: Path, network: str, outs: set[str]) -> list[str]:
    """Record in ``clone``'s ``dvc.lock`` what `dvc repro` would: the new hash of the
    ``network`` file in every stage that depends on it, and of the ``outs`` that changed
    (the trained models are not needed: nothing else is hashed). The stages touched."""
    script = """if True:
        import json, sys
        from dvc.repo import Repo
        network, outs = sys.argv[1], set(json.loads(sys.argv[2]))
        repo, touched = Repo(), []
        with repo.lock:
            for stage in repo.index.stages:
                deps = [d for d in stage.deps if d.def_path == network]
                mine = [o for o in stage.outs if o.def_path in outs]
                for entry in deps + mine:
                    entry.save()
                if deps or mine:
                    stage.dump(update_pipeline=False)
                    touched.append(stage.addressing)
        print(json.dumps(touched))
    """
    done = run([sys.executable, "-c", script, network, json.dumps(sorted(outs))], clone)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changed", required=True, help="the network the edit changes")
    parser.add_argument("--edit", nargs=2, required=True, metavar=("OLD", "NEW"),
                        help="a line of its file, and what it becomes")
    parser.add_argument("--same", required=True, help="a network whose code stays")
    parser.add_argument("--delta", type=float, default=0.25,
                        help="the changed network's test accuracy moves by this")
    parser.add_argument("--same-delta", type=float, default=0.002,
                        help="the other network's test accuracy moves by this")
    parser.add_argument("--out", type=Path, required=True, help="Markdown report to write")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="review-scenario-") as tmp:
        clone = Path(tmp) / "repo"
        run(["git", "clone", "-q", str(ROOT), str(clone)], ROOT)
        head = run(["git", "rev-parse", "--short", "HEAD"], clone).stdout.strip()
        params = yaml.safe_load((clone / "params.yaml").read_text())
        for model in (args.changed, args.same):
            if model not in params["models"]:
                sys.exit(f"review_scenario: no model {model!r} in params.yaml's models "
                         f"({', '.join(params['models'])})")
        architecture = params["models"][args.changed]["architecture"]
        network = clone / architecture
        text = network.read_text()
        old, new = args.edit
        if text.count(old) != 1:
            sys.exit(f"review_scenario: {old!r} occurs {text.count(old)} times in "
                     f"{network.relative_to(clone)}, not once")
        network.write_text(text.replace(old, new))

        log_path = clone / "plots" / "train" / args.changed / "params.yaml"
        log = yaml.safe_load(log_path.read_text())
        code = code_of(clone, architecture)
        moved = sorted(p for p in {*code, *log["code"]} if code.get(p) != log["code"].get(p))
        relative = network.relative_to(clone).as_posix()
        if moved != [relative]:
            sys.exit(f"review_scenario: the fingerprint moved in {moved}, not only {relative}")
        before_digest = log["code"][relative]  # one line of the log changes
        line = f"  {relative}: {before_digest}\n"
        log_path.write_text(log_path.read_text().replace(line, f"  {relative}: {code[relative]}\n"))

        changed = move_accuracy(clone, args.changed, args.delta)
        same = move_accuracy(clone, args.same, args.same_delta)
        stages = record(clone, relative, {f"plots/train/{args.changed}",
                                          f"metrics/{args.changed}.json",
                                          f"metrics/{args.same}.json"})
        run(["dvc", "repro", "-q", "-s", "plot", "summarise"], clone)
        run(["git", "add", "-A"], clone)
        run(["git", "-c", "user.name=scenario", "-c", "user.email=scenario@localhost",
             "commit", "-q", "-m", f"{args.changed}: {new}; seed 0 rerun"], clone)
        compare = run([sys.executable, "-m", "cnnbench", "compare", "--base", "HEAD~1"],
                      clone, check=False)
        gate = run([sys.executable, "-m", "cnnbench", "gate"], clone, check=False)

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = [
        f"# Review scenario: {args.changed} edited, {args.same} untouched",
        "",
        f"- Committed results at `{head}`, {when}; the command is in this script's docstring.",
        f"- Edit: `{old}` → `{new}` in `{relative}`; code fingerprint "
        f"`{before_digest}` → `{code[relative]}` (no other file moved); new hashes "
        f"recorded in `dvc.lock` for {', '.join(f'`{s}`' for s in stages)}.",
        f"- Test accuracy set: {args.changed} {changed[0]:.4f} → {changed[1]:.4f}, "
        f"{args.same} {same[0]:.4f} → {same[1]:.4f}.",
        "",
        f"## `cnnbench compare --base HEAD~1` (exit {compare.returncode})",
        "", "```", (compare.stdout + compare.stderr).rstrip(), "```", "",
        f"## `cnnbench gate` (exit {gate.returncode})",
        "", "```", (gate.stdout + gate.stderr).rstrip(), "```", "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(report))
    print(compare.stdout.splitlines()[2] if compare.stdout.count("\n") > 2 else compare.stdout)
    print(f"review_scenario: wrote {args.out}")


if __name__ == "__main__":
    main()
