"""Trading: outcome scoring of signals, performance statistics (and later: engine, risk, brokers)."""
