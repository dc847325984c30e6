"""Tools around the pipeline that write no pipeline output.

- ``bench``     training and inference throughput of the models
- ``estimate``  how long ``dvc repro`` will take on this machine
- ``build``     the pyproject extras to install on this machine (``make setup``)
"""
