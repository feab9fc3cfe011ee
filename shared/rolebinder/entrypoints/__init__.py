"""Where a run starts: the Function Compute invocation, its configuration from the
environment, and the wiring of clients, gateways and engine.
"""
