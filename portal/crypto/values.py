"""What an encrypted attribute holds before, instead of, or on its way to plaintext."""

from typing import NoReturn

from portal.crypto.errors import DecryptionError, ValueDisposed

UNREADABLE_TEXT = "[unreadable \N{EM DASH} reported]"
DISPOSED_TEXT = "[disposed]"


class Sealed:
    """A ciphertext as loaded from the database, not decrypted yet."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __repr__(self) -> str:
        return f"<Sealed {len(self.blob)} bytes>"

    def __str__(self) -> str:
        return "[encrypted]"


class Ciphertext(bytes):
    """A sealed value on its way to the database; the only thing the fields will store."""


class Undecryptable:
    """Stands in for a value that cannot be decrypted.

    Renders as a visible marker (never as empty), is truthy (``{% if %}`` shows
    it), and raises its DecryptionError on any use as data: attributes, items,
    iteration, comparison, arithmetic.
    """

    __slots__ = ("blob", "error")

    def __init__(self, error: DecryptionError, blob: bytes) -> None:
        self.error = error
        self.blob = blob

    def __str__(self) -> str:
        return DISPOSED_TEXT if isinstance(self.error, ValueDisposed) else UNREADABLE_TEXT

    def __html__(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"<Undecryptable {self.error.model}.{self.error.field} row {self.error.row_id}>"

    def __bool__(self) -> bool:
        return True

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):  # protocol probes (copy, pickle, templates) stay harmless
            raise AttributeError(name)
        raise self.error

    def _refuse(self, *args: object) -> NoReturn:
        raise self.error

    __getitem__ = __iter__ = __len__ = __contains__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __add__ = __radd__ = __int__ = __float__ = _refuse
    __hash__ = object.__hash__
