"""How a manually reported incident came in: a closed vocabulary."""
from __future__ import annotations

from enum import StrEnum


class Source(StrEnum):
    TICKET = "ticket"                  # 工单
    IM = "im"                          # 即时消息 (chat)
    PHONE = "phone"                    # 电话
    EMAIL = "email"
    COMPLAINT = "complaint"            # 客户投诉 channel
    PUBLIC_OPINION = "public_opinion"  # 舆情 (social media, press)
    INSPECTION = "inspection"          # 巡检 / a factory or store inspector
