"""Members' complaints (réclamations): filing from the portal or at the counter, a queue with service levels,
assignment, internal notes, replies to the member, closing, reopening, satisfaction rating, and automatic
escalation association → ligue → fédération when a complaint is overdue."""
