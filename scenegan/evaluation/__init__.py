"""Evaluation: FVD with a PyTorch I3D, clip metrics, baselines in one table, the report."""
