"""Feeds: adapters behind the CandleFeed port (synthetic, replay, ccxt, alpaca)."""
