"""Trading: the engine that turns signals and candles into orders, under risk, on a broker."""
