"""Plain values of the problem: an instance, a decision, an outcome, reasons, ownership.

Pure: no SDK, no network, no environment, no clock.
"""
