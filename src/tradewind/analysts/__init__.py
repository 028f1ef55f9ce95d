"""Analysts: turn multi-timeframe analysis into a Signal (rule-based now, LLM later)."""
