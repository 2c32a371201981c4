"""The assistant's replies as HTML: escaped, line breaks kept, the portal's own pages linked."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Only paths inside the patient portal become links; nothing else in a reply is markup.
PORTAL_PATH = re.compile(r"(/patient/[a-z0-9/-]*)")


@register.filter
def reply(text: str) -> SafeString:
    escaped = escape(text)
    linked = PORTAL_PATH.sub(r'<a href="\1">\1</a>', escaped)
    return mark_safe(linked.replace("\n", "<br>"))  # noqa: S308 (escaped above)
