"""Market data: the multi-timeframe streamer and its feeds."""
