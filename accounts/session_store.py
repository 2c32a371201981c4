"""Database sessions that record their user, address and times in columns.

Django's own session table cannot say which sessions belong to a user; this
store copies a few keys of the session data into columns on every save, so
"your active sessions" and "end all other sessions" are plain queries.
"""

from datetime import UTC, datetime

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBSessionStore

from accounts.models import UserSession

SESSION_ID = "_portal_session_id"
SIGNED_IN_AT = "_portal_signed_in_at"
LAST_ACTIVITY = "_portal_last_activity"
CLIENT_IP = "_portal_client_ip"
USER_AGENT = "_portal_user_agent"
# When the user last confirmed their password and a code again (sudo mode, accounts/reauth.py).
REAUTH_AT = "_portal_reauth_at"


def _when(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


class SessionStore(DBSessionStore):
    @classmethod
    def get_model_class(cls):
        return UserSession

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        obj.user_id = data.get(SESSION_KEY)
        obj.public_id = data.get(SESSION_ID)
        obj.created_at = _when(data.get(SIGNED_IN_AT))
        obj.last_activity = _when(data.get(LAST_ACTIVITY))
        obj.client_ip = data.get(CLIENT_IP)
        obj.user_agent = data.get(USER_AGENT, "")[:200]
        return obj
