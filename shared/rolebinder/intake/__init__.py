"""Event intake: a delivery (EventBridge, CloudMonitor, ActionTrail, timer) -> parsed events.

Pure. Every event source is one entry of the parser registry in `events`.
"""
