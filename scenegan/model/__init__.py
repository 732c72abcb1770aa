"""Networks, losses, training loop, checkpoints, data loading, sampling and metrics."""
