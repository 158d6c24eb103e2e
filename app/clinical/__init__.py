"""The clinical decision, pure (standard library only): facts, engine, orders, terminology, the result."""
