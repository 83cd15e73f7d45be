"""Work that runs in the background: the scheduled refresh, its cron, chart processes."""
