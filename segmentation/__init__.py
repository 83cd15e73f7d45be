"""The segmentation engine: pure pandas and scikit-learn, no Slack, no SQLite."""
