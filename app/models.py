"""Imports every model module so both metadatas are complete (migrations, tests)."""

from app.api.models import ApiClient, ApiToken
from app.audit.models import AuditEvent
from app.care.claims_models import CareInvoice, CareLine, CareRecord, CeilingAlert, PaymentBatch
from app.care.models import (
    CareProvider,
    CareSignal,
    Convention,
    ConventionPrice,
    EligibilityCheck,
    GuaranteeLetter,
    GuaranteeLetterItem,
    ProviderUser,
)
from app.complaints.models import Complaint, ComplaintEvent
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
from app.reports.models import Report
from app.security.models import Account, Grant
from hierarchy.models import Node, NodeEvent
from hierarchy.supervision.models import Alert, AlertRule, Fact, Refresh, Snapshot, Target
from notifications.models import MemberPreference, OutboxMessage, StaffMessage
from payments.models import (
    OnlinePayment,
    PaymentEvent,
    PaymentInbox,
    ProviderCredential,
    ReconciliationItem,
    ReconciliationRun,
    SandboxCharge,
)
from portal.models import PortalAccess, SignInCode
from tenants.models import Tenant, TenantSetting

__all__ = [
    "Account", "Alert", "AlertRule", "Allocation", "ApiClient", "ApiToken", "AuditEvent", "Benefit",
    "CardKey", "CareInvoice", "CareLine", "CareProvider", "CareRecord", "CareSignal", "CeilingAlert",
    "Complaint", "ComplaintEvent", "Consent", "Convention", "ConventionPrice", "Due", "EligibilityCheck",
    "EnrolmentDraft", "Fact", "Grant", "GuaranteeLetter", "GuaranteeLetterItem", "Member", "MemberImport",
    "MemberPreference", "MemberStatusEvent", "Node", "NodeEvent", "OnlinePayment", "OutboxMessage",
    "Payment", "PaymentBatch", "PaymentEvent", "PaymentInbox", "PortalAccess", "Product", "ProductBenefit",
    "ProductVersion", "ProviderCredential", "ProviderUser", "ReconciliationItem", "ReconciliationRun",
    "Refresh", "Report", "RightsEvent", "SandboxCharge", "SignInCode", "Snapshot", "StaffMessage",
    "Subscription", "SubsidyReceivable", "TariffBand", "Target", "Tenant", "TenantSetting", "VersionSubsidy",
]  # fmt: skip
