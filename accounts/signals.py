"""What accounts tells other apps, so that accounts imports none of them.

``second_factor_verified`` is sent once a user has passed the second factor
of a sign-in (``user=``), inside that request; a receiver's exception
fails the sign-in as if the work were done inline. records connects its
sign-in sync to it (records/apps.py).
"""

from django.dispatch import Signal

second_factor_verified = Signal()
