"""The project's upload handler: files stream to temporary files, and too much is cut off.

Django's own handlers keep small files in memory and have no size limit for files
at all (DATA_UPLOAD_MAX_MEMORY_SIZE counts the other fields only). This one writes
every file to a temporary file as it arrives and stops reading the request once a
file passes MESSAGING_MAX_FILE_BYTES or all files together pass
MESSAGING_MAX_TOTAL_BYTES (or the declared length says they will), so a 50 MB
upload is never held in memory nor written out whole. It marks the request
(``upload_too_large``) so the form can say why the files are missing. nginx
(deploy/nginx.conf, client_max_body_size) refuses larger bodies before this runs.
"""

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

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
        super().new_file(*args, **kwargs)

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
        return super().receive_data_chunk(raw_data, start)

    def _refuse(self) -> None:
        if self.request is not None:
            self.request.upload_too_large = True  # type: ignore[attr-defined]
