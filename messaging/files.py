"""Attachments that cannot hurt anyone: sniff, decode, re-encode, scan.

What a file is comes from its first bytes, never from its name or the browser's
Content-Type. Only PDF, JPEG, PNG and HEIC are taken, and none is stored as sent:

- images are decoded by Pillow under a pixel limit and re-encoded (PNG stays
  PNG, JPEG stays JPEG, HEIC becomes JPEG when pillow-heif is installed), which
  drops metadata (EXIF GPS) and anything appended to or hidden in the file;
- PDFs are parsed by pypdf and their pages copied into a new document, so the
  catalogue's OpenAction, JavaScript name tree, embedded files and forms stay
  behind; page actions and annotations (links, widgets, launch actions) are
  removed; encrypted or malformed PDFs are refused;
- with ``CLAMD_SOCKET`` set, the sanitised bytes are scanned by clamd (INSTREAM)
  and refused when infected or when the scanner cannot be reached (fail closed).

The name is kept only as a label (encrypted with the file), stripped of any path
and control characters and given the extension of what the file really is.
"""

import hashlib
import io
import re
import socket
import struct
import unicodedata
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import NameObject

PDF, JPEG, PNG, HEIC = "application/pdf", "image/jpeg", "image/png", "image/heic"
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png"}
HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
NAME_MAX = 100


class AttachmentRefused(Exception):
    """The file is not taken; the message says why, in words for the person who sent it.

    ``code`` is what the audit row records (no name, no content).
    """

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CleanFile:
    name: str
    content: bytes
    content_type: str

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def sniff(data: bytes) -> str | None:
    """The type the first bytes say, among those we take; None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return HEIC
    return None


def sanitise(name: str, data: bytes) -> CleanFile:
    """The file as it will be stored and served, or AttachmentRefused."""
    if not data:
        raise AttachmentRefused("The file is empty.", "empty")
    # The bytes as sent are scanned, so an infected upload is reported as such.
    scan(data)
    kind = sniff(data)
    if kind is None:
        raise AttachmentRefused("Only PDF, JPEG, PNG and HEIC files can be attached.", "type")
    if kind == PDF:
        content, content_type = _rewrite_pdf(data), PDF
    else:
        content, content_type = _reencode_image(data, kind)
    return CleanFile(
        name=clean_name(name, content_type), content=content, content_type=content_type
    )


def clean_name(name: str, content_type: str) -> str:
    """A label for the file: no path, no control characters, the extension of its type."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[: NAME_MAX - 5].strip(" .") or "attachment"
    return f"{stem}.{EXTENSIONS[content_type]}"


# --- Images -------------------------------------------------------------------------


def _reencode_image(data: bytes, kind: str) -> tuple[bytes, str]:
    if kind == HEIC:
        _register_heif()
    limit = settings.MESSAGING_IMAGE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            # Only the header is read so far: refuse a bomb before decoding a pixel.
            width, height = image.size
            if width * height > limit:
                raise AttachmentRefused("The image is too large (too many pixels).")
            image.load()
    except AttachmentRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise AttachmentRefused("The image is too large (too many pixels).") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise AttachmentRefused("The image could not be read; it may be damaged.") from error
    if kind in (JPEG, HEIC):
        out, fmt, content_type = image.convert("RGB"), "JPEG", JPEG
    else:
        keep = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
        out, fmt, content_type = image.convert(keep), "PNG", PNG
    buffer = io.BytesIO()
    # A new image from the pixels alone: no EXIF, ICC, XMP or text chunks are passed on.
    clean = Image.new(out.mode, out.size)
    clean.paste(out)
    clean.save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue(), content_type


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener  # type: ignore[import-not-found]
    except ImportError as error:
        raise AttachmentRefused(
            "HEIC photos cannot be taken yet; please send a JPEG or PNG."
        ) from error
    register_heif_opener()


# --- PDFs ---------------------------------------------------------------------------

# Page entries that can act (additional actions) or carry interactive content.
PAGE_KEYS_DROPPED = ("/AA", "/Annots")


def _rewrite_pdf(data: bytes) -> bytes:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise AttachmentRefused(
                "The PDF is password-protected; please send it without a password."
            )
        writer = PdfWriter()
        for page in reader.pages:
            for key in PAGE_KEYS_DROPPED:
                if NameObject(key) in page:
                    del page[NameObject(key)]
            writer.add_page(page)
        if not writer.pages:
            raise AttachmentRefused("The PDF has no pages.")
        buffer = io.BytesIO()
        writer.write(buffer)
    except AttachmentRefused:
        raise
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise AttachmentRefused("The PDF could not be read; it may be damaged.") from error
    return buffer.getvalue()


# --- Antivirus (clamd) ----------------------------------------------------------------


def scan(data: bytes) -> None:
    """Refuse the bytes if clamd finds something, or cannot be asked. No-op without CLAMD_SOCKET."""
    path = settings.CLAMD_SOCKET
    if not path:
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(settings.CLAMD_TIMEOUT)
            sock.connect(path)
            sock.sendall(b"zINSTREAM\0")
            for start in range(0, len(data), 65536):
                chunk = data[start : start + 65536]
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
            sock.sendall(struct.pack("!L", 0))
            answer = b""
            while not answer.endswith(b"\0"):
                part = sock.recv(4096)
                if not part:
                    break
                answer += part
    except OSError as error:
        raise AttachmentRefused(
            "Files cannot be checked for viruses right now; please try again later."
        ) from error
    text = answer.rstrip(b"\0").decode(errors="replace")
    if text.endswith("FOUND"):
        raise AttachmentRefused("The file contains a virus and was not attached.", "infected")
    if not text.endswith("OK"):
        raise AttachmentRefused(
            "Files cannot be checked for viruses right now; please try again later."
        )
