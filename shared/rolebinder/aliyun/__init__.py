"""Alibaba Cloud: the SDK transport (signing, pacing, retry, deadlines) and the ECS and RAM
gateways that turn SDK calls into small typed values and our errors.
"""
