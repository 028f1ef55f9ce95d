"""The LLM analyst as the command line runs it (``evaluate`` and ``backtest`` with ``--analyst llm``)."""

from __future__ import annotations

from tradewind.cli import output as out


def llm_for_evaluation(offline: bool, max_cost: float | None):  # type: ignore[no-untyped-def]
    """The LLM analyst from TRADEWIND_LLM_* settings, logging to (and replaying from) the database;
    offline it calls nothing, and with ``max_cost`` every call is checked against the cap first."""
    from tradewind.analysts.llm_port import OfflineChatClient
    from tradewind.analysts.rules import RulesAnalyst
    from tradewind.analysts.spend import SpendLimit
    from tradewind.bootstrap import build_llm_analyst
    from tradewind.domain.clock import SystemClock
    from tradewind.storage.db import create_engine_for
    from tradewind.storage.decisions import SqlDecisionLog
    from tradewind.storage.migrate import upgrade_database

    settings = out.load_settings()
    upgrade_database(settings.database_url)
    decisions = SqlDecisionLog(create_engine_for(settings.database_url))
    if not offline and settings.llm_base_url is None and not settings.api_keys():
        out.fail("--analyst llm: set OPENAI_API_KEY (OpenAI) or TRADEWIND_LLM_BASE_URL (a local server), or use --offline")
    client = OfflineChatClient(settings.llm_model) if offline else None
    limit = SpendLimit(max_cost) if max_cost is not None else None
    return build_llm_analyst(settings, decisions=decisions, rules=RulesAnalyst(), clock=SystemClock(), client=client,
                             limit=limit)[1]
