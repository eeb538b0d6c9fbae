from app.errors import DomainError


class HierarchyRuleBroken(DomainError):
    """The change would break 001_… §2 (who creates whom) or the tree's integrity."""
