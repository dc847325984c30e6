"""The training wing: what shapes a trained model and its training log.

- ``train``       build, compile and fit one model; save it and its log atomically
- ``recipe``      optimizer, schedule, loss and augmentation from the train params
- ``inputs``      training batches in an order drawn from (seed, epoch) alone
- ``checkpoint``  per-epoch checkpoints, so a killed run resumes exactly
- ``distribute``  data parallelism over several processes (Keras' distribution API)
- ``logs``        per-epoch DVCLive logs and the training log's params
"""
