"""The ``climate-assets`` command line: demo, dev, materialize, status, check, export, generate,
upload, deploy, env and jobs.

It imports the code location (``climate_assets``) and is never imported by it. Each module holds
one command: a function that computes its answer from the instance, the definitions or the lake
(tested directly), and a renderer for the terminal; ``cli.main`` parses and dispatches.
"""
