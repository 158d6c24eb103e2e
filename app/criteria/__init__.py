"""Clinical content as data: load and validate the criteria files, and their typed model."""
