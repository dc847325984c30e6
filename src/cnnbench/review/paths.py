"""The pipeline's paths, as ``dvc.yaml`` writes them: the one place they live.

The stages take their paths as arguments from ``dvc.yaml``; the commands that read a
revision's or an experiment's results (compare, repeats, experiments, review) take them
from the ``vars`` of ``dvc.yaml`` here, so that moving an output is one edit there.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from cnnbench.errors import CnnbenchError

#: The vars every command needs, and what each names.
NEEDED = {"metrics": "folder of <model>.json metrics", "logs": "folder of training logs",
          "data_summary": "the prepare stage's data summary",
          "reference": "the seed report's numbers", "repeats": "folder of seed repeats",
          "figures": "folder of figures", "summary": "the Markdown summary",
          "review": "folder the review is written to"}


def pipeline_paths(dvc_yaml: str | os.PathLike = "dvc.yaml") -> dict[str, str]:
    """The paths in ``dvc_yaml``'s ``vars``, each checked to be there."""
    try:
        text = Path(dvc_yaml).read_text()
    except OSError as err:
        raise CnnbenchError(f"{dvc_yaml}: cannot read the pipeline ({err.strerror}); run "
                            "from the project root") from None
    merged: dict = {}
    for entry in (yaml.safe_load(text) or {}).get("vars") or []:
        if isinstance(entry, dict):
            merged.update(entry)
    missing = [key for key in NEEDED if not isinstance(merged.get(key), str)]
    if missing:
        raise CnnbenchError(f"{dvc_yaml}: vars lacks {', '.join(missing)} "
                            f"({'; '.join(NEEDED[k] for k in missing)})")
    return {key: merged[key] for key in NEEDED}
