"""The tables. Every row belongs to a workspace; every datetime is aware UTC; money is integer
minor units plus an ISO 4217 code (``webapp.money``). One module per area; all are imported
here so ``from webapp.models import X`` works and Alembic sees every table."""

from webapp.models.inbox import (  # noqa: F401
    CONVERSATION_STATUSES,
    DEAL_STAGES,
    DIRECTIONS,
    ROLES,
    Contact,
    Conversation,
    Deal,
    Message,
    User,
    Workspace,
    WorkspaceAddress,
)
from webapp.models.salesforce import (  # noqa: F401
    CONNECTION_MODES,
    CONNECTION_STATES,
    SALESFORCE_ENVIRONMENTS,
    OAuthState,
    SalesforceConnection,
    SalesforceFieldAccess,
)
from webapp.models.mirror import (  # noqa: F401
    SfAccount,
    SfContact,
    SfOpportunity,
    SfOpportunityHistory,
    SfOpportunityStage,
    SfUser,
)
from webapp.models.sync import (  # noqa: F401
    ACTIVE_STATUSES,
    FREQUENCIES,
    RUN_STATUSES,
    RUN_TRIGGERS,
    SyncCursor,
    SyncRecordError,
    SyncRun,
    SyncSettings,
)
from webapp.models.analytics import FactRefresh, FactValue, MessageFact  # noqa: F401
from webapp.models.twoway import LINK_KINDS, LINK_STATES, SyncConflict, SyncLink  # noqa: F401
from webapp.models.auth import UserSession  # noqa: F401
from webapp.models.mailimport import IMPORT_JOB_ACTIVE, IMPORT_JOB_STATUSES, MailImportJob  # noqa: F401
from webapp.models.card import CARD_SOBJECTS, CREATE_STATES, SalesforceChoice, SalesforceCreate  # noqa: F401
from webapp.models.activity import EMAIL_LOG_MODES, EMAIL_LOG_STATES, EmailLog  # noqa: F401
from webapp.models.notify import INCIDENT_KINDS, NotificationIncident  # noqa: F401
from webapp.models.mail import FOLDER_ROLES, FOLDER_STATES, TLS_MODES, Mailbox, MailboxFolder  # noqa: F401
from webapp.models.reply import FILED_STATES, REPLY_STATES, Reply  # noqa: F401
