"""Manual intake: incidents reported by people (ticket, IM, phone, complaint, public opinion,
inspection…), classified into a problem type and a proposed severity."""
