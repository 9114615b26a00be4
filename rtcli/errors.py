"""One exception tree for rtcli, with Appwrite's stable error types.

    RtcliError
     └── AppwriteError(type, message)      an error with an Appwrite type and HTTP status
          (raised by services and stores, rendered once per boundary:
           server/errors.py turns it into {message, code, type, version};
           the realtime session turns it into an error frame;
           the client raises it again from an error body)
           └── UniqueViolation(detail)     a store's write broke a unique index (409)

The HTTP status of each type lives in ``ERROR_TYPES`` so that every boundary agrees on it.
"""

from __future__ import annotations

from typing import Any

# type -> (HTTP status, default message). Messages follow Appwrite's app/config/errors.php.
ERROR_TYPES: dict[str, tuple[int, str]] = {
    "general_argument_invalid": (400, "Invalid argument."),
    "general_query_invalid": (400, "The query is invalid."),
    "general_cursor_not_found": (400, "The cursor is invalid."),
    "general_unauthorized_scope": (401, "The current user or API key does not have the required scopes."),
    "general_access_forbidden": (401, "Access to this API is forbidden."),
    "general_route_not_found": (404, "The requested route was not found."),
    "general_not_implemented": (405, "This method is not implemented."),
    "general_payload_too_large": (413, "The request body is too large."),
    "general_unknown_origin": (403, "The request originated from an unknown origin."),
    "general_rate_limit_exceeded": (429, "Rate limit for the current endpoint has been exceeded."),
    "general_bad_request": (400, "The request is malformed."),
    "general_server_error": (500, "Server Error"),
    "general_service_unavailable": (503, "The service is unavailable."),
    "health_queue_size_exceeded": (503, "Queue size threshold hit."),
    "project_not_found": (404, "Project with the requested ID could not be found."),
    "user_unauthorized": (401, "The current user is not authorized to perform the requested action."),
    "user_invalid_credentials": (401, "Invalid credentials. Please check the email and password."),
    "user_already_exists": (409, "A user with the same id, email, or phone already exists in this project."),
    "user_email_already_exists": (409, "A user with the same email already exists in the current project."),
    "user_phone_already_exists": (409, "A user with the same phone number already exists in the current project."),
    "user_jwt_invalid": (401, "The JWT token is invalid."),
    "user_not_found": (404, "User with the requested ID could not be found."),
    "user_session_not_found": (404, "The current user session could not be found."),
    "user_session_already_exists": (401, "Creation of a session is prohibited when a session is active."),
    "user_blocked": (401, "The current user has been blocked."),
    "user_password_mismatch": (400, "Passwords do not match. Please check the password and confirm password."),
    "user_invalid_token": (401, "Invalid token passed in the request."),
    "team_not_found": (404, "Team with the requested ID could not be found."),
    "team_already_exists": (409, "Team with requested ID already exists."),
    "team_invite_already_exists": (409, "User has already been invited or is already a member of this team."),
    "team_invalid_secret": (401, "The team invitation secret is invalid."),
    "team_membership_mismatch": (401, "The membership ID does not belong to the current user."),
    "membership_not_found": (404, "Membership with the requested ID could not be found."),
    "membership_already_confirmed": (409, "Membership is already confirmed."),
    "team_limit_exceeded": (400, "The user is a member of as many teams as the server allows."),
    "key_not_found": (404, "Key with the requested ID could not be found."),
    "storage_bucket_not_found": (404, "Storage bucket with the requested ID could not be found."),
    "storage_bucket_already_exists": (409, "A storage bucket with the requested ID already exists."),
    "storage_file_not_found": (404, "The requested file could not be found."),
    "storage_file_already_exists": (409, "A storage file with the requested ID already exists."),
    "storage_invalid_content_range": (400, "The content range is invalid."),
    "storage_invalid_file_size": (400, "The file size is either not valid or exceeds the maximum allowed size."),
    "storage_file_type_unsupported": (400, "The given file extension is not supported."),
    "storage_invalid_file": (400, "The uploaded file is invalid."),
    "storage_bucket_disabled": (403, "The bucket is disabled."),
    "function_not_found": (404, "Function with the requested ID could not be found."),
    "function_already_exists": (409, "Function with the requested ID already exists."),
    "topic_not_found": (404, "Topic with the requested ID could not be found."),
    "topic_already_exists": (409, "A topic with the requested ID already exists."),
    "presence_not_found": (404, "Presence with the requested ID could not be found."),
    "presence_already_exists": (409, "Presence with the requested ID already exists."),
    "execution_not_found": (404, "Execution with the requested ID could not be found."),
    "execution_in_progress": (400, "Can't delete ongoing execution. Please wait for execution to finish before "
                                   "deleting it."),
    "database_not_found": (404, "Database not found."),
    "database_already_exists": (409, "Database already exists."),
    "table_not_found": (404, "Table with the requested ID could not be found."),
    "table_already_exists": (409, "A table with the requested ID already exists."),
    "column_not_found": (404, "Column with the requested ID could not be found."),
    "column_already_exists": (409, "Column with the requested key already exists."),
    "column_value_invalid": (400, "The column value is invalid."),
    "column_type_invalid": (400, "The column type is invalid."),
    "row_not_found": (404, "Row with the requested ID could not be found."),
    "row_already_exists": (409, "Row with the requested ID already exists."),
    "row_unique_constraint_violation": (409, "Row violates a unique column constraint. Try again with different "
                                              "value(s)."),
    "document_unique_constraint_violation": (409, "Document violates a unique attribute constraint. Try again with "
                                                  "different value(s)."),
    "column_index_not_found": (404, "Index with the requested key could not be found."),
    "column_index_already_exists": (409, "Index with the requested key already exists."),
    "column_index_invalid": (400, "Index invalid."),
    "column_index_limit_exceeded": (400, "The maximum number of indexes for the table has been reached."),
    "collection_not_found": (404, "Collection with the requested ID could not be found."),
    "collection_already_exists": (409, "A collection with the requested ID already exists."),
    "document_not_found": (404, "Document with the requested ID could not be found."),
    "document_already_exists": (409, "Document with the requested ID already exists."),
    "document_invalid_structure": (400, "The document structure is invalid."),
    "document_missing_data": (400, "The document data is missing."),
    "attribute_not_found": (404, "Attribute with the requested ID could not be found."),
    "attribute_already_exists": (409, "Attribute with the requested key already exists."),
    "attribute_value_invalid": (400, "The attribute value is invalid."),
    "attribute_type_invalid": (400, "The attribute type is invalid."),
    "index_not_found": (404, "Index with the requested key could not be found."),
    "index_already_exists": (409, "Index with the requested key already exists."),
    "index_invalid": (400, "Index invalid."),
    "index_limit_exceeded": (400, "The maximum number of indexes for the collection has been reached."),
    "transaction_not_found": (404, "Transaction with the requested ID could not be found."),
    "transaction_invalid": (400, "The transaction is invalid."),
    "transaction_expired": (410, "The transaction has expired."),
    "transaction_limit_exceeded": (400, "The maximum number of operations in a transaction has been reached."),
    "transaction_not_ready": (400, "The transaction is not pending."),
    "row_invalid_structure": (400, "The row structure is invalid."),
    "row_missing_data": (400, "The row data is missing."),
    "row_missing_payload": (400, "The row data and permissions are missing. You must provide either row data or "
                                 "permissions to be updated."),
}

_STATUS_ALLOWED = {400, 401, 402, 403, 404, 405, 408, 409, 410, 412, 413, 416, 422, 429, 451, 501, 503}


class RtcliError(Exception):
    """Base of every error rtcli raises on purpose."""


class AppwriteError(RtcliError):
    """An error with an Appwrite error type; ``code`` is the HTTP status it maps to."""

    def __init__(self, type: str, message: str | None = None, code: int | None = None) -> None:
        status, default = ERROR_TYPES.get(type, (code or 500, "Server Error"))
        self.type = type
        self.code = code if code is not None else status
        self.message = message or default
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        # Appwrite sends statuses outside its known set as 500; so do we.
        return self.code if self.code in _STATUS_ALLOWED else 500

    def to_dict(self, version: str) -> dict[str, Any]:
        return {"message": self.message, "code": self.http_status, "type": self.type, "version": version}

    def __repr__(self) -> str:
        return f"AppwriteError({self.type!r}, {self.message!r}, code={self.code})"


class UniqueViolation(AppwriteError):
    """A write broke a unique index (raised by both stores' transactions, whatever the driver).

    A repository that checks for a taken ID before its INSERT turns this into the resource's own
    "already exists" error: on PostgreSQL, where writes run in parallel, a request made at the
    same moment can take the ID between the check and the INSERT. One that escapes is still a
    409 the client can act on, never a 500."""

    def __init__(self, detail: str) -> None:
        super().__init__("general_argument_invalid", "A resource with the same ID was created at the same moment "
                         "by another request; retry the request.", code=409)
        self.detail = detail  # the driver's message, naming the index


def invalid(message: str) -> AppwriteError:
    """Shorthand for the most common client error."""
    return AppwriteError("general_argument_invalid", message)
