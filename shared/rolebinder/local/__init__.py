"""Local mode: the event bus that routes the fake cloud's events to the handlers, a fake FC
context, and the scripted demo. Imports the fake cloud; never packaged for FC.
"""
