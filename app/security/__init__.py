"""Inbound trust: CDS client JWTs and the key sets they are verified with."""
