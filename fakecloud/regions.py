"""The regions the fake serves: those the ECS docs list (docs/research/api-facts.md)."""

from __future__ import annotations

REGIONS = frozenset(
    {
        "cn-hangzhou",
        "cn-shanghai",
        "cn-beijing",
        "cn-shenzhen",
        "cn-qingdao",
        "cn-zhangjiakou",
        "cn-huhehaote",
        "cn-wulanchabu",
        "cn-chengdu",
        "cn-guangzhou",
        "cn-heyuan",
        "cn-hongkong",
        "ap-southeast-1",
        "ap-southeast-3",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "us-east-1",
        "us-west-1",
        "eu-west-1",
        "eu-central-1",
        "me-east-1",
        "me-central-1",
    }
)
