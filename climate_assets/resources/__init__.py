"""External systems as resources: one interface each, an embedded and an AWS implementation."""
