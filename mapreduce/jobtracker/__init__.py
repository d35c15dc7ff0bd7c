"""The JobTracker: the pure scheduler (scheduler.py, model.py) and the daemon around it."""
