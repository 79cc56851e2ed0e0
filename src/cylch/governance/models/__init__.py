"""Governance's tables, one module per concern (one writer each)."""

from cylch.governance.models.approvals import ApprovalKind, ApprovalRequest, ApprovalState
from cylch.governance.models.retention import *  # noqa: F403
from cylch.governance.models.rights import RightsRequest, RightsRequestKind
from cylch.governance.models.webhooks import *  # noqa: F403

__all__ = ["ApprovalKind", "ApprovalRequest", "ApprovalState", "RightsRequest", "RightsRequestKind"]
