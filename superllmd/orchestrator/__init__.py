"""Orchestration modes: pure asyncio, provider-agnostic."""
