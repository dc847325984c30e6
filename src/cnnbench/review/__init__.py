"""The review wing: pull requests and DVC experiments, read from git and DVC.

- ``gate``         fail, naming the stages, when the committed results are stale
- ``refresh``      record edits that cannot change any output, without rerunning
- ``compare``      a revision's results against a base, as Markdown, marked against noise
- ``runs``         each side's main runs and the seed repeats that are their noise
- ``review``       the comparison, the summary and ``dvc plots diff`` as one review
- ``experiments``  experiments side by side in a terminal
- ``repeats``      collect seed repeats from DVC experiments
- ``project``      git and DVC in-process, and the pipeline's paths from dvc.yaml
"""
