"""Adapters: concrete implementations of the ports (event bus, LLM clients, brokers)."""
