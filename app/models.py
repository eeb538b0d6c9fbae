"""Imports every model module so both metadatas are complete (migrations, tests)."""

from app.api.models import ApiClient, ApiToken
from app.audit.models import AuditEvent
from app.members.models import CardKey, Consent, EnrolmentDraft, Member, MemberImport, MemberStatusEvent
from app.security.models import Account, Grant
from hierarchy.models import Node, NodeEvent
from notifications.models import OutboxMessage
from tenants.models import Tenant, TenantSetting

__all__ = [
    "Account", "ApiClient", "ApiToken", "AuditEvent", "CardKey", "Consent", "EnrolmentDraft", "Grant",
    "Member", "MemberImport", "MemberStatusEvent", "Node", "NodeEvent", "OutboxMessage", "Tenant",
    "TenantSetting",
]  # fmt: skip
