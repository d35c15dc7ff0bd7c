"""Ways to run a job: inline (in this process, local files) and cluster (JobTracker)."""
