"""Support tiers (一线 L1 → 二线 L2 → 研发 R&D): problem types routed to support groups, each
staffed by a team; a tier's time box chased like any late stage and, when it runs out, the
incident escalated to the next tier; hand-overs with their package; the requester's score."""
