from app.errors import DomainError


class TenantUnavailable(DomainError):
    """The tenant exists but is suspended or archived: requests get a clear page, not an error."""

    def __init__(self, tenant: object) -> None:
        super().__init__(str(getattr(tenant, "status", "")))
        self.tenant = tenant


class TenantTransitionRefused(DomainError):
    """The status change is not allowed from the current status."""
