"""What deployment reads: template.yml (triggers, policy, parameters) and the checkout's
functions/. Operator tooling; never packaged for FC.
"""
