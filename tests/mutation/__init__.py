"""`python3 dev.py mutate`: one-line mutations of the safety-critical code that the tests must kill.

The mutations are one data table (`tests/mutation/table.py`); the runner (`runner.py`) applies
each to a copy of the checkout and runs the tests chosen for it there.
"""
