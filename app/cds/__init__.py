"""CDS Hooks 2.0: the service blueprint, prefetch handling, cards, envelope schemas."""
