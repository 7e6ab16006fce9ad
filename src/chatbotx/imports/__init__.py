"""Contact imports from uploaded CSV files, run as background jobs in resumable batches."""
