"""The project's upload handler: files stream to temporary files, and too much is cut off.

Django's own handlers keep small files in memory and have no size limit for files
at all (DATA_UPLOAD_MAX_MEMORY_SIZE counts the other fields only). This one writes
every file to a temporary file as it arrives and stops reading the request once a
file passes MESSAGING_MAX_FILE_BYTES or all files together pass
MESSAGING_MAX_TOTAL_BYTES (or the declared length says they will), so a 50 MB
upload is never held in memory nor written out whole. It marks the request
(``upload_too_large``) so the form can say why the files are missing. nginx
(deploy/nginx.conf, client_max_body_size) refuses larger bodies before this runs.

When the temporary directory (FILE_UPLOAD_TEMP_DIR) has no room left, the half-written
file is deleted, the rest of the body is read and dropped, and the request is marked
``upload_no_space``: the form says so and keeps what was typed, instead of a server error.
"""

import logging
from typing import Any, NoReturn

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

logger = logging.getLogger(__name__)

# Room for the form's other fields and the multipart framing on top of the files.
FRAMING_ALLOWANCE = 256 * 1024


class CappedUploadHandler(TemporaryFileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.total = 0
        self.this_file = 0
        self.declared_too_large = False

    def handle_raw_input(
        self,
        input_data: Any,
        META: Any,
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        # Raised here, StopUpload would escape the parser: refuse at the first file instead.
        self.declared_too_large = (
            content_length > settings.MESSAGING_MAX_TOTAL_BYTES + FRAMING_ALLOWANCE
        )

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.this_file = 0
        if self.declared_too_large:
            self._refuse()
            raise StopUpload(connection_reset=True)
        try:
            super().new_file(*args, **kwargs)
        except OSError as error:
            self._no_space(error)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.this_file += len(raw_data)
        self.total += len(raw_data)
        if (
            self.this_file > settings.MESSAGING_MAX_FILE_BYTES
            or self.total > settings.MESSAGING_MAX_TOTAL_BYTES
        ):
            self._refuse()
            self.file.close()
            raise StopUpload(connection_reset=True)
        try:
            return super().receive_data_chunk(raw_data, start)
        except OSError as error:
            self._no_space(error)

    def file_complete(self, file_size: int) -> UploadedFile | None:
        try:  # the last buffered bytes reach the disk here
            return super().file_complete(file_size)
        except OSError as error:
            self._no_space(error)

    def _no_space(self, error: OSError) -> NoReturn:
        """The temporary file could not be written (a full disk, most likely): delete it,
        read the rest of the body (within the limits above) so the page can answer."""
        # The errno only: the exception's text names the temporary file's path.
        logger.error("upload dropped: the upload directory could not be written (%s)", error.errno)
        file = getattr(self, "file", None)
        if file is not None:
            file.close()  # a NamedTemporaryFile: closing deletes it
        if self.request is not None:
            self.request.upload_no_space = True  # type: ignore[attr-defined]
        raise StopUpload(connection_reset=False)

    def _refuse(self) -> None:
        if self.request is not None:
            self.request.upload_too_large = True  # type: ignore[attr-defined]
