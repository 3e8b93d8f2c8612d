"""One exit-code enum and one base exception for the whole program.

Codes follow borg's convention: 0 success, 2 command-line usage (click's own), 3-99 errors,
100-127 warnings, 128+N killed by signal N. Every error class has its own code; a test walks all
subclasses of :class:`PPSArchiveError` and fails on a duplicate.

Library code raises these; only the CLI and the daemon turn them into messages and exit codes.
Messages name the file or case reference and say what to do next. They never carry a parent's
or a child's name.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    # errors 3-99
    CONFIG_INVALID = 3
    NOT_INITIALISED = 4
    DATABASE_UNAVAILABLE = 5
    PASSPHRASE_SOURCE = 6
    WRONG_PASSPHRASE = 7
    CASE_NOT_FOUND = 8
    CASE_EXISTS = 9
    INVALID_CASE_REF = 10
    CONSENT_REQUIRED = 11
    HOLD_NOT_FOUND = 12
    ON_HOLD = 13
    INVALID_VALUE = 14
    AUDIT_CHAIN_BROKEN = 15
    CONFIRMATION_REFUSED = 16
    MISSING_DEPENDENCY = 17
    EXTERNAL_PROGRAM_FAILED = 18
    BAD_INPUT = 19
    DOCUMENT_NOT_FOUND = 20
    UNSUPPORTED_FORMAT = 21
    INTEGRITY_ERROR = 22
    FOREIGN_ARCHIVE = 23
    KEY_DESTROYED = 24
    KEY_NOT_FOUND = 25
    MEDIA_ERROR = 26
    SHRED_BLOCKED = 27
    NOT_ARCHIVED = 28
    DISK_FULL = 29
    FILE_ACCESS = 30
    KEY_NOT_AUTHENTIC = 35
    SIGNING_KEY_UNTRUSTED = 36
    WEAK_PASSPHRASE = 38
    DECISION_REQUIRED = 48
    UNDO_REFUSED = 49
    NOT_IN_REVIEW = 50
    INPUT_REFUSED = 44
    SPOOL_COPY_MISSING = 45
    FUTURE_DATE = 31
    NOT_AUTHORISED = 32
    SHRED_NOT_DUE = 33
    TRANSACTION_NESTING = 54
    # disposal-faults helper: 41-43
    ERASURE_UNVERIFIED = 41
    DISPOSAL_RUNNING = 42
    REGISTER_DISAGREES = 76
    # disposal-approval helper: 66-69
    DISPOSAL_NOT_APPROVED = 66
    APPROVAL_REFUSED = 67
    DISPOSAL_PLAN_CHANGED = 68
    DISPOSAL_PLAN_UNUSABLE = 69
    # staff-accounts helper: 60-65
    LOGIN_FAILED = 60
    ACCOUNT_LOCKED = 61
    MANAGER_REQUIRED = 62
    ACCOUNT_NOT_FOUND = 63
    PASSWORD_CHANGE_REQUIRED = 64
    ACTOR_MISMATCH = 65
    # library-rules helper: 70-75
    NOT_FOUND = 70
    CONFLICT = 71
    # policy-reports helper: 94-97
    IDENTIFICATION_REFUSED = 94
    WOULD_IDENTIFY = 95
    APPOINTMENT_NOT_FOUND = 96
    POLICY_REFUSAL = 72
    DISC_NOT_FOUND = 73
    # policy-rights helper: 90-93
    ERASURE_REFUSED = 90
    DOCUMENT_UNAVAILABLE = 91
    # disc-plan helper: 87-89 (warnings 111-112)
    ROUND_NOT_FOUND = 87
    DISC_REFUSED = 88
    ROUND_CLOSED = 89
    # disc-burn helper: 83-86
    NO_DRIVE = 83
    DISC_NOT_BLANK = 84
    DISC_TOO_SMALL = 85
    BURN_FAILED = 86
    # lib-auth helper: 77-78
    RECOVERY_BACKOFF = 77
    # ops-service helper: 79-82
    BACKUP_EXPIRED = 79
    RESTORE_TARGET_IN_USE = 80
    # web-security helper: 46-47
    SOURCE_REFUSED = 46
    # warnings 100-127
    WARNING = 100
    DUPLICATE_INPUT = 101
    QUARANTINED = 102
    INPUTS_REFUSED = 104
    NOT_READ_FROM_DISC = 103
    NO_MANAGER_ACCOUNT = 107
    DISCS_REFUSED = 111  # a disc put in while going through the cupboard was refused; the others were recorded
    # disc-burn helper: 109-110
    NO_ERROR_CORRECTION = 109
    RESTORED_BEFORE_DISPOSAL = 106
    STATUS_UNHEALTHY = 108


class PPSArchiveError(Exception):
    """Base of every error a person can act on.

    Subclasses set ``exit_code`` and ``template``; the template is formatted with the keyword
    arguments given to the constructor, so ``CaseNotFound(ref="PPS-2024-0001")`` reads well.

    For a front-end: ``http_status`` is the HTTP status a web layer answers with (404 not found,
    409 conflict with the present state, 403 refused by policy, 422 a bad value, 500 otherwise);
    the message is front-end neutral, and ``cli_hint`` (formatted from ``cli_hint_template`` or
    given as ``cli_hint=`` when raised) is the command-line wording of what to do next, which the
    CLI prints after the message and a web app replaces with its own.
    """

    exit_code: ExitCode = ExitCode.UNEXPECTED
    template: str = "{message}"
    http_status: int = 500
    cli_hint_template: str = ""

    def __init__(self, message: str | None = None, /, *, cli_hint: str | None = None, **fields: object) -> None:
        self.fields = dict(fields)
        if message is not None:
            self.fields.setdefault("message", message)
        try:
            text = self.template.format(**self.fields)
        except (KeyError, IndexError):
            text = message or self.template
        if cli_hint is None:
            try:
                cli_hint = self.cli_hint_template.format(**self.fields)
            except (KeyError, IndexError):
                cli_hint = ""
        self.cli_hint = cli_hint
        super().__init__(text)

    @property
    def message(self) -> str:
        return str(self)

    def cli_text(self) -> str:
        """The message with the command-line hint after it, as the CLI prints it."""
        return f"{self}{' ' + self.cli_hint if self.cli_hint else ''}"


class NotFound(PPSArchiveError):
    """Something named by a reference or an id does not exist (a web layer answers 404)."""

    exit_code = ExitCode.NOT_FOUND
    http_status = 404


class Conflict(PPSArchiveError):
    """The request clashes with the present state: already done, already destroyed, changed
    meanwhile (a web layer answers 409)."""

    exit_code = ExitCode.CONFLICT
    http_status = 409


class PolicyRefusal(PPSArchiveError):
    """A well-formed request the confidentiality policy does not allow now (a web layer answers 403)."""

    exit_code = ExitCode.POLICY_REFUSAL
    http_status = 403


class ConfigInvalid(PPSArchiveError):
    exit_code = ExitCode.CONFIG_INVALID
    template = "{file}: {key}: {problem}. Fix that key (see config/default.toml for every key)."


class NotInitialised(PPSArchiveError):
    exit_code = ExitCode.NOT_INITIALISED
    template = "{what} is not set up in {data_dir}: set the archive up first."
    cli_hint_template = "Run 'pps-archive init' first."
    http_status = 503


class DatabaseUnavailable(PPSArchiveError):
    exit_code = ExitCode.DATABASE_UNAVAILABLE
    http_status = 503
    template = "cannot use the database ({url}): {problem}. {hint}"


class PassphraseSourceError(PPSArchiveError):
    exit_code = ExitCode.PASSPHRASE_SOURCE


class WrongPassphrase(PPSArchiveError):
    exit_code = ExitCode.WRONG_PASSPHRASE
    http_status = 401
    template = (
        "the passphrase does not open this archive's master key. Check which passphrase source is "
        "set ($PPS_ARCHIVE_PASSPHRASE, $PPS_ARCHIVE_PASSPHRASE_FILE or the prompt) and try again."
    )


class CaseNotFound(NotFound):
    exit_code = ExitCode.CASE_NOT_FOUND
    template = "no case {ref} in the register: check the reference, or open the case first."
    cli_hint_template = "To open it: 'pps-archive case open {ref}'."


class CaseExists(Conflict):
    exit_code = ExitCode.CASE_EXISTS
    template = "case {ref} is already open."
    cli_hint_template = "Use 'pps-archive case list' to see it."


class InvalidCaseRef(PPSArchiveError):
    exit_code = ExitCode.INVALID_CASE_REF
    http_status = 422
    template = (
        "{ref!r} is not a case reference: it must match {pattern} (set cases.reference_pattern in "
        "the configuration to change that)."
    )


class ConsentRequired(PolicyRefusal):
    exit_code = ExitCode.CONSENT_REQUIRED
    template = (
        "case {ref} has no recorded consent to store information: record it once the parent/carer has given it."
    )
    cli_hint_template = "Record it with 'pps-archive case consent {ref} --store yes'."


class HoldNotFound(NotFound):
    exit_code = ExitCode.HOLD_NOT_FOUND
    template = "case {ref} has no active hold {hold}: check the case's holds."
    cli_hint_template = "See them with 'pps-archive case list'."


class OnHold(PolicyRefusal):
    exit_code = ExitCode.ON_HOLD
    template = "case {ref} is under a {reason} hold (hold {hold}): {what} is blocked until the hold is released."


class InvalidValue(PPSArchiveError):
    """A value that is not one the library accepts (a web layer answers 422)."""

    exit_code = ExitCode.INVALID_VALUE
    template = "{message}"
    http_status = 422


#: the name a front-end reads; ``InvalidValue`` (exit 14) stays for compatibility
BadValue = InvalidValue


class AuditChainBroken(PPSArchiveError):
    exit_code = ExitCode.AUDIT_CHAIN_BROKEN
    template = (
        "the audit log has been altered: {problem}. Do not dispose of anything; restore the "
        "database from a backup and compare."
    )


class ConfirmationRefused(PPSArchiveError):
    exit_code = ExitCode.CONFIRMATION_REFUSED
    http_status = 400
    template = "not confirmed, nothing was done ({what}): type {word} exactly to go on."
    cli_hint_template = "Type it at the prompt, or pass --yes in a script."


class MissingDependency(PPSArchiveError):
    exit_code = ExitCode.MISSING_DEPENDENCY
    template = "{program} {problem}: install it with '{install}' (or run 'make demo', which installs it)."


class ExternalProgramFailed(PPSArchiveError):
    exit_code = ExitCode.EXTERNAL_PROGRAM_FAILED
    template = "{program} failed (exit {returncode}): {stderr}"


class BadInput(PPSArchiveError):
    """An input file that cannot be processed; it is kept in quarantine with this reason."""

    exit_code = ExitCode.BAD_INPUT
    template = "{file}: {reason}"


class DocumentNotFound(NotFound):
    exit_code = ExitCode.DOCUMENT_NOT_FOUND
    template = "no document {document}: check the document's id."
    cli_hint_template = "List them with 'pps-archive documents'."


class UnsupportedFormat(PPSArchiveError):
    exit_code = ExitCode.UNSUPPORTED_FORMAT
    template = "{what} uses format {version!r}, which this version of pps-archive does not know: upgrade pps-archive."


class IntegrityError(PPSArchiveError):
    exit_code = ExitCode.INTEGRITY_ERROR
    template = "{what} failed its integrity check: {problem}."


class ForeignArchive(PPSArchiveError):
    exit_code = ExitCode.FOREIGN_ARCHIVE
    template = (
        "{what} belongs to archive {theirs}, not to this one ({ours}): use the backup made from "
        "this archive."
    )


class KeyDestroyed(PPSArchiveError):
    exit_code = ExitCode.KEY_DESTROYED
    http_status = 410
    template = "the key of case {ref} was destroyed on {when} (disposal): its records cannot be decrypted any more."


class KeyNotFound(NotFound):
    exit_code = ExitCode.KEY_NOT_FOUND
    template = "no key for case {ref} in this archive's key store."


class MediaError(PPSArchiveError):
    exit_code = ExitCode.MEDIA_ERROR
    template = "{media}: {problem}"


class DiscNotFound(NotFound):
    exit_code = ExitCode.DISC_NOT_FOUND
    template = "no disc {label} in the disc register: check the label."
    cli_hint_template = "See the register with 'pps-archive media list'."


class ShredBlocked(PolicyRefusal):
    exit_code = ExitCode.SHRED_BLOCKED
    template = "shred-list entry {entry} cannot be confirmed: {reason}."


class NotArchived(PolicyRefusal):
    exit_code = ExitCode.NOT_ARCHIVED
    template = "{what} is not on a verified disc yet: {hint}"


class DiskFull(PPSArchiveError):
    exit_code = ExitCode.DISK_FULL
    http_status = 507
    template = "no space left while writing {path}: free some space and run the command again; nothing was registered."


class FileAccess(PPSArchiveError):
    exit_code = ExitCode.FILE_ACCESS
    template = "cannot use {path}: {problem}. Check the path and its permissions."


class KeyNotAuthentic(PPSArchiveError):
    """A public key in the database is not the one the archive's signing key signed for it."""

    exit_code = ExitCode.KEY_NOT_AUTHENTIC
    template = (
        "{what} is not authentic: {problem}. Someone or something changed the key store in the database, "
        "so nothing was encrypted to it and the scans stay queued. Stop the daemon and run 'pps-archive init' "
        "with the master passphrase: it puts right what the keys' wrapped secrets prove and names the keys it "
        "cannot; for those, restore the database from a backup made before the change."
    )


class SigningKeyUntrusted(PPSArchiveError):
    """The archive's signing key in the database differs from the one pinned in the data directory."""

    exit_code = ExitCode.SIGNING_KEY_UNTRUSTED
    template = (
        "the archive's signing key cannot be trusted: {problem}. Nothing was encrypted and the scans stay "
        "queued. {todo}"
    )


class WeakPassphrase(PPSArchiveError):
    exit_code = ExitCode.WEAK_PASSPHRASE
    http_status = 422
    template = (
        "{what} is too weak: {problem}. Choose a longer one, e.g. four or five unrelated words "
        "(a copy of the database can be attacked offline; only the passphrase protects it)."
    )


class DecisionRequired(PPSArchiveError):
    exit_code = ExitCode.DECISION_REQUIRED
    http_status = 422
    template = (
        "document {document} came without a cover-sheet decision: say whether a scan is kept (retain) "
        "or the paper is only shredded (shred)."
    )


class UndoRefused(Conflict):
    exit_code = ExitCode.UNDO_REFUSED
    template = "the review decision on document {document} cannot be undone: {reason}."


class NotInReview(Conflict):
    exit_code = ExitCode.NOT_IN_REVIEW
    template = "document {document} is not in the review queue (it is {state}): {hint}"


class InputRefused(PPSArchiveError):
    """A path that is not a regular file we can read (a link, a folder, a device, a pipe, missing,
    unreadable): it is left where it is, untouched, and nothing is recorded for it."""

    exit_code = ExitCode.INPUT_REFUSED
    template = "{file}: {reason}"


class SpoolCopyMissing(PPSArchiveError):
    exit_code = ExitCode.SPOOL_COPY_MISSING
    template = (
        "input {input} has no copy in this data directory's spool ({data_dir}): it was not processed "
        "and stays queued. If another data directory shares this database, its own intake will "
        "process it; otherwise drop the file in again."
    )


class FutureDate(PPSArchiveError):
    """A destructive action asked to run on a date later than today."""

    exit_code = ExitCode.FUTURE_DATE
    http_status = 422
    template = (
        "{what} runs on the real date: {as_of} is later than today ({today}). A later date is only "
        "for dry runs and listings; run it again without the date."
    )


class NotAuthorised(PPSArchiveError):
    """A destructive action without proof that the key store was unlocked for it."""

    exit_code = ExitCode.NOT_AUTHORISED
    http_status = 401
    template = "{what} needs the key store unlocked first (the master passphrase): {problem}. Nothing was done."


class ShredNotDue(PolicyRefusal):
    """Paper of a case that is not yet archive-due: it is still a live case file."""

    exit_code = ExitCode.SHRED_NOT_DUE
    template = (
        "shred-list entry {entry} cannot be confirmed yet: case {ref} is still active and its paper is "
        "shredded only when it is archived, from {due_on}. Keep the paper in the case file until then."
    )


class TransactionNesting(PPSArchiveError):
    """A programming error a front-end must not hit: the library's transaction rule was broken."""

    exit_code = ExitCode.TRANSACTION_NESTING
    template = (
        "a write transaction was opened inside a read-only one: open the write transaction first and "
        "read inside it (see pipeline/workspace.py). Nothing was changed."
    )


class ErasureUnverified(PPSArchiveError):
    """Destroyed key records are still readable in the database files: no certificate is written."""

    exit_code = ExitCode.ERASURE_UNVERIFIED
    template = (
        "the destroyed keys of {cases} case(s) are still readable in {files}: {why}. The cases are "
        "disposed of, but no certificate was written. Stop {stop}, then run the disposal again: it "
        "finishes the job and writes the certificate."
    )


class DisposalRunning(Conflict):
    exit_code = ExitCode.DISPOSAL_RUNNING
    template = "another disposal run is going on in this data directory ({lock}): wait for it to end, then run this one again."


class RegisterDisagrees(PPSArchiveError):
    """The case register says less than the keyed audit log (an earlier last activity, a hold missing)."""

    exit_code = ExitCode.REGISTER_DISAGREES
    template = (
        "the case register disagrees with the audit log: {problem}. The database was changed outside the "
        "program, so nothing was destroyed; restore the database from a backup and compare."
    )
class DisposalNotApproved(PPSArchiveError):
    """A disposal run without the approvals the configuration asks for."""

    exit_code = ExitCode.DISPOSAL_NOT_APPROVED
    http_status = 403
    template = "{what}: {problem}. Nothing was destroyed. {next}"


class ApprovalRefused(PPSArchiveError):
    """An approval of a disposal plan that cannot count: by its own preparer, of another hash, twice."""

    exit_code = ExitCode.APPROVAL_REFUSED
    http_status = 403
    template = "disposal plan {plan} cannot be approved by {actor}: {problem}. Nothing was approved."


class DisposalPlanChanged(PPSArchiveError):
    """What a disposal run would do now is not what was approved."""

    exit_code = ExitCode.DISPOSAL_PLAN_CHANGED
    template = ("disposal plan {plan} was approved, but the plan computed now differs: {changes}. Nothing was "
                "destroyed. Prepare a new plan and have it approved again.")


class DisposalPlanUnusable(PPSArchiveError):
    """A disposal plan that does not exist, has expired or was executed already."""

    exit_code = ExitCode.DISPOSAL_PLAN_UNUSABLE
    template = "disposal plan {plan} {problem}. Nothing was destroyed. Prepare a new plan."
class LoginFailed(PPSArchiveError):
    """A staff login that did not open its key slot (each one is an audit event)."""

    exit_code = ExitCode.LOGIN_FAILED
    template = (
        "login as {account} failed: the password is wrong, or there is no enabled account of that name. "
        "Failed logins are counted; after {limit} in a row the account is locked until a manager unlocks it."
    )


class AccountLocked(PPSArchiveError):
    """Too many failed logins: wait (backoff), or a manager lifts the lock."""

    exit_code = ExitCode.ACCOUNT_LOCKED
    template = "account {account} {problem}. Nothing was done."


class ManagerRequired(PPSArchiveError):
    """A manager's action asked of a staff account."""

    exit_code = ExitCode.MANAGER_REQUIRED
    http_status = 403
    template = (
        "{what} needs a manager: {actor} is logged in as {role}. Ask a manager to do it (or use the "
        "recovery passphrase kept in the office safe). Nothing was done."
    )


class AccountNotFound(PPSArchiveError):
    exit_code = ExitCode.ACCOUNT_NOT_FOUND
    template = "there is no staff account {account}{problem}: see the list of staff accounts."


class PasswordChangeRequired(PPSArchiveError):
    """A one-time password (set by a manager's reset) opens nothing but a password change."""

    exit_code = ExitCode.PASSWORD_CHANGE_REQUIRED
    template = (
        "account {account} has a one-time password: choose a new password first (the staff password "
        "change); until then it opens nothing else. Nothing was done."
    )


class ActorMismatch(PPSArchiveError):
    """The name given for the audit log is not the account that logged in."""

    exit_code = ExitCode.ACTOR_MISMATCH
    template = (
        "the action is recorded as done by the account that logged in ({account}), but {given!r} was "
        "given as the person doing it: log in as {given}, or leave the name out. Nothing was done."
    )


class ErasureRefused(PolicyRefusal):
    """Erasure on withdrawal asked while the parent/carer's consent to keep information stands."""

    exit_code = ExitCode.ERASURE_REFUSED
    template = (
        "case {ref} still has consent to store information recorded: its records are erased only once the "
        "parent/carer has withdrawn that consent. Record the withdrawal first. Nothing was erased."
    )
    cli_hint_template = "Record it with 'pps-archive case consent {ref} --store no'."


class DocumentUnavailable(NotFound):
    """A subject access export must hold every document: one has no copy the export can read."""

    exit_code = ExitCode.DOCUMENT_UNAVAILABLE
    template = (
        "{count} document(s) of case {ref} (document {ids}) have no copy in the vault and are not on any disc "
        "presented: present the discs that hold them (the disc register lists them). Nothing was written."
    )
    cli_hint_template = "Give each disc image or mount point with --media."


class NoDrive(PPSArchiveError):
    """No writer at the device named for a burn (or it cannot be opened)."""

    exit_code = ExitCode.NO_DRIVE
    http_status = 503
    template = (
        "no CD writer at {device}: {problem}. Check that the drive is connected and its device name "
        "(usually /dev/sr0); nothing was written and the register is unchanged."
    )


class DiscNotBlank(PPSArchiveError):
    """The medium in the drive already holds data (or is closed): a burn needs a blank CD-R."""

    exit_code = ExitCode.DISC_NOT_BLANK
    http_status = 409
    template = (
        "the disc in {device} is not blank ({status}): put a new, blank CD-R in the drive and try again; "
        "nothing was written and the register is unchanged."
    )


class DiscTooSmall(PPSArchiveError):
    """The blank medium has fewer free sectors than the image needs."""

    exit_code = ExitCode.DISC_TOO_SMALL
    http_status = 409
    template = (
        "disc {label} needs {needed} sectors of 2,048 bytes but the disc in {device} has only {free} free: "
        "use a larger blank disc (a 700 MB / 80-minute CD-R holds 360,000); nothing was written."
    )


class BurnFailed(PPSArchiveError):
    """The writer reported a failure, or the disc read back differs from the image."""

    exit_code = ExitCode.BURN_FAILED
    template = (
        "writing disc {label} to {device} failed: {problem}. The disc does not count as archived: "
        "throw it away (a CD-R cannot be written twice) and burn the image again on a new blank disc."
    )


class IdentificationRefused(PolicyRefusal):
    """A report to the Local Authority would identify a parent/carer who has not given permission."""

    exit_code = ExitCode.IDENTIFICATION_REFUSED
    template = ("a report to the Local Authority may name case {ref} or include its documents only with the parent/carer's "
                "recorded permission to be identified, and none is recorded: {what} was refused. Write the report "
                "without the case, or record the permission first.")
    cli_hint_template = "To record it: 'pps-archive case consent {ref} --identify-to-la yes'."


class WouldIdentify(PolicyRefusal):
    """Text others will see (a telephone message, a diary entry) carries a detail of a child or case."""

    exit_code = ExitCode.WOULD_IDENTIFY
    template = ("{what} must not carry details of the child or the case, but it contains {found}: take that out and "
                "try again.")


class AppointmentNotFound(NotFound):
    exit_code = ExitCode.APPOINTMENT_NOT_FOUND
    template = "there is no booked appointment {appointment} (it may have been cancelled): see the diary."


class RecoveryBackoff(PPSArchiveError):
    """Failed attempts with the recovery passphrase in a row: the next one waits (never a lock)."""

    exit_code = ExitCode.RECOVERY_BACKOFF
    http_status = 403
    template = (
        "the recovery passphrase has {failures} failed attempt(s) in a row: try again after {at} UTC "
        "(each failure doubles the wait, up to a limit; it never locks the archive). Nothing was done."
    )


class BackupExpired(PolicyRefusal):
    """A database backup past its expiry: it may hold case keys destroyed since (crypto-erase)."""

    exit_code = ExitCode.BACKUP_EXPIRED
    template = (
        "the database backup made on {created} expired on {expires}: it may still hold case keys destroyed "
        "since (disposal), so it is not restored. Destroy it, and restore a newer backup."
    )


class RestoreTargetInUse(Conflict):
    """A backup is restored only into an empty database, never over a live one."""

    exit_code = ExitCode.RESTORE_TARGET_IN_USE
    template = (
        "{target} already holds a database: a backup is restored only into a new, empty data directory or "
        "database, never over a live one. Nothing was changed."
    )


def all_error_classes() -> list[type[PPSArchiveError]]:
    """Every subclass of the base, however deep, for the exit-code uniqueness test."""
    seen: list[type[PPSArchiveError]] = []
    stack = list(PPSArchiveError.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen


class RoundNotFound(NotFound):
    exit_code = ExitCode.ROUND_NOT_FOUND
    template = "there is no round of discs {round}{purpose}: start one by presenting the first disc."


class DiscRefused(Conflict):
    """A disc put in during a round that cannot count for it (another archive's, unreadable,
    forged, or another disc under a label already presented). Nothing was recorded for it."""

    exit_code = ExitCode.DISC_REFUSED
    template = "{media}: {problem}"


class RoundClosed(Conflict):
    exit_code = ExitCode.ROUND_CLOSED
    template = "round of discs {round} is closed ({why}): start a new round for the next run."


class SourceRefused(PolicyRefusal):
    """A disc source typed on a web form that is not the drive, a mounted disc or an image in the
    data directory's image folder (:mod:`pipeline.source_paths`): nothing was read."""

    exit_code = ExitCode.SOURCE_REFUSED
    template = ("{given}: not a disc this server reads for a web form. Give the drive (a device such as "
                "/dev/sr0), the folder where the CD is mounted, or an image in the data directory's image folder.")
