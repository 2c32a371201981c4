import uuid

from django.db import models


class Patient(models.Model):
    """The patient whose records the portal holds; a patient user links to one.

    Demographics and clinical data attach to this row in later features, each
    in encrypted fields under the patient's own key.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"patient {self.pk}"
