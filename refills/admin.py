"""The clinic's refill set-up for administrators: pharmacies, medicine rules, prescribers.

Refill requests themselves (with the patient's encrypted comment) have no admin page:
the care team works them through the queue, on the safe path.
"""

from django.contrib import admin

from refills.models import MedicineRule, Pharmacy, Prescriber


@admin.register(Pharmacy)
class PharmacyAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "phone", "ncpdp_id", "active")
    search_fields = ("name", "ncpdp_id")


@admin.register(MedicineRule)
class MedicineRuleAdmin(admin.ModelAdmin):
    list_display = ("rxnorm", "kind", "note")
    list_filter = ("kind",)


@admin.register(Prescriber)
class PrescriberAdmin(admin.ModelAdmin):
    list_display = ("user", "ehr_requester")
