"""The report wing: what the plot and summarise stages import (never ``review``).

- ``results``     a run's metrics, training logs and seed repeats as tables; the protocol
                  digest that says which runs repeat one another
- ``statistics``  over seeds: mean, spread and where one more run would land
- ``noise``       whether a difference between two sides is beyond run-to-run noise
- ``summary``     the seed report's tables, regenerated, as Markdown and CSV
- ``figures``     SciencePlots figures per model and across models
"""
