"""Consolidation: every entity's staged batches become one deduplicated `visitas` table."""
