"""Operating commands of the CLI: ``status``, ``jobs``, ``materialize`` and ``export``.

Each module holds one command: a function that computes its answer from the instance, the
definitions or the lake (tested directly), and a renderer for the terminal.
"""
