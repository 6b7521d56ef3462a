"""CLI verbs beyond train/runs, one module each; engine/__main__.py finds them here.

A module defines `add_parser(verbs)`: it adds its subparser and sets `func=run` (args -> exit
status). Errors a person caused (bad id, bad file, bad option) are raised as ParamError /
ValueError / FileNotFoundError: the CLI prints them and exits 2.
"""
