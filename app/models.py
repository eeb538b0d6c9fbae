"""Imports every model module so both metadatas are complete (migrations, tests)."""

from app.api.models import ApiClient, ApiToken
from app.audit.models import AuditEvent
from app.contributions.models import Allocation, Due, Payment, Subscription, SubsidyReceivable
from app.coverage.models import (
    Benefit,
    Product,
    ProductBenefit,
    ProductVersion,
    RightsEvent,
    TariffBand,
    VersionSubsidy,
)
from app.members.models import CardKey, Consent, EnrolmentDraft, Member, MemberImport, MemberStatusEvent
from app.security.models import Account, Grant
from hierarchy.models import Node, NodeEvent
from notifications.models import OutboxMessage
from payments.models import (
    OnlinePayment,
    PaymentEvent,
    PaymentInbox,
    ProviderCredential,
    ReconciliationItem,
    ReconciliationRun,
    SandboxCharge,
)
from tenants.models import Tenant, TenantSetting

__all__ = [
    "Account", "Allocation", "ApiClient", "ApiToken", "AuditEvent", "Benefit", "CardKey", "Consent", "Due",
    "EnrolmentDraft", "Grant", "Member", "MemberImport", "MemberStatusEvent", "Node", "NodeEvent",
    "OnlinePayment", "OutboxMessage", "Payment", "PaymentEvent", "PaymentInbox", "Product", "ProductBenefit",
    "ProductVersion", "ProviderCredential", "ReconciliationItem", "ReconciliationRun", "RightsEvent",
    "SandboxCharge", "Subscription", "SubsidyReceivable", "TariffBand", "Tenant", "TenantSetting",
    "VersionSubsidy",
]  # fmt: skip
