"""The decisions at work: gather (API reads) -> plan (pure) -> apply (writes), the sweep
pipeline, role checks, ownership markers and the circuit breaker. Over the `aliyun` gateways.
"""
