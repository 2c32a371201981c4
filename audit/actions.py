"""The audit vocabulary: what happened, how it ended, how much it matters."""

from django.db import models


class Action(models.TextChoices):
    LOGIN = "login", "Sign-in (password)"
    LOGIN_LOCKED_OUT = "login.locked_out", "Sign-in refused: locked out"
    OTP_VERIFY = "otp.verify", "Second factor"
    OTP_ENROL = "otp.enrol", "Second factor enrolled"
    OTP_EMAIL_SENT = "otp.email_sent", "Sign-in code e-mailed"
    BACKUP_CODES_CREATED = "otp.backup_codes", "Backup codes created"
    REAUTH = "reauth", "Re-authenticated (password and second factor again)"
    LOGOUT = "logout", "Sign-out"
    SESSION_IDLE_TIMEOUT = "session.idle_timeout", "Signed out after inactivity"
    SESSION_EXPIRED = "session.expired", "Session reached its maximum age"
    SESSION_ENDED = "session.ended", "Session ended by its user"
    PASSWORD_CHANGE = "password.change", "Password changed"
    PASSWORD_RESET_REQUEST = "password.reset_request", "Password reset requested"
    PASSWORD_RESET = "password.reset", "Password reset completed"
    EMAIL_CHANGE = "account.email_change", "E-mail address changed"
    ACCESS_DENIED = "access.denied", "Access refused by policy"
    ADMIN_ADD = "admin.add", "Admin: object added"
    ADMIN_CHANGE = "admin.change", "Admin: object changed"
    ADMIN_DELETE = "admin.delete", "Admin: object deleted"
    ACCOUNT_DEACTIVATED = "account.deactivated", "Account deactivated"
    RECORD_VIEW = "record.view", "Record viewed"
    BREAK_GLASS = "access.break_glass", "Emergency access (break-glass)"
    EXPORT = "audit.export", "Audit trail exported"
    DIRECTORY_SEARCH = "record.directory_search", "Patient directory searched (no match)"
    BREAK_GLASS_REVIEWED = "access.break_glass_reviewed", "Emergency access reviewed"
    KEY_ROTATED = "crypto.key_rotated", "Patient data keys re-wrapped under the newest KEK"
    PATIENT_SHREDDED = "crypto.patient_shredded", "Patient data key destroyed (crypto-shredding)"
    DECRYPT_FAILED = "crypto.decrypt_failed", "Encrypted value could not be decrypted"
    RECORDS_SYNC = "records.sync", "Records synced from the EHR"
    RECORDS_QUARANTINE = "records.quarantine", "EHR resource quarantined"
    RECORDS_FOREIGN = "records.foreign_resource", "EHR resource about another patient dropped"
    RECORDS_SYNC_REQUEST = "records.sync_request", "Sync with the EHR requested"
    RECORDS_REMOVED = "records.removed", "Resource deleted on the EHR removed from the portal"
    RECORD_DOWNLOAD = "record.download", "Record downloaded"
    APPOINTMENT_SEARCH = "appointment.search", "Open appointment slots searched"
    APPOINTMENT_BOOK = "appointment.book", "Appointment booked"
    APPOINTMENT_CANCEL = "appointment.cancel", "Appointment cancelled"
    APPOINTMENT_RESCHEDULE = "appointment.reschedule", "Appointment moved to another time"
    APPOINTMENT_STATUS = "appointment.status", "Appointment marked arrived or no-show"
    SCHEDULE_VIEW = "appointment.schedule_view", "Schedule listing the patient viewed"


class Outcome(models.TextChoices):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class Severity(models.TextChoices):
    INFO = "info"
    HIGH = "high"
