"""The ledger against Stripe: every payment and refund on one side and not the other, or
with another amount (``manage.py billing_reconcile --since DATE``)."""

from datetime import UTC, date, datetime

from billing import gateway
from billing.models import LedgerEntry


def differences(since: date) -> list[str]:
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    intents, refunds = gateway.movements_since(int(start.timestamp()))
    found: list[str] = []
    for kind, on_stripe, sign in (
        (LedgerEntry.Kind.PAYMENT, intents, -1),
        (LedgerEntry.Kind.REFUND, refunds, 1),
    ):
        ours: dict[str, int] = {
            str(e.stripe_id): sign * e.amount
            for e in LedgerEntry.objects.filter(kind=kind, created_at__gte=start).exclude(
                stripe_id=None
            )
        }
        if kind == LedgerEntry.Kind.REFUND:
            # A refund that failed is reversed on our side and not listed on Stripe's.
            reversed_ids = set(
                LedgerEntry.objects.filter(
                    kind=LedgerEntry.Kind.REVERSAL, stripe_id__in=list(ours)
                ).values_list("stripe_id", flat=True)
            )
            ours = {k: v for k, v in ours.items() if k not in reversed_ids}
        theirs = {m.stripe_id: m.amount for m in on_stripe}
        for stripe_id in sorted(theirs.keys() - ours.keys()):
            # Posted before the window (an old payment, a late refund) is not a difference.
            if not LedgerEntry.objects.filter(kind=kind, stripe_id=stripe_id).exists():
                found.append(
                    f"{kind} {stripe_id}: {theirs[stripe_id]} at Stripe, not in the ledger"
                )
        for stripe_id in sorted(ours.keys() - theirs.keys()):
            found.append(f"{kind} {stripe_id}: {ours[stripe_id]} in the ledger, not at Stripe")
        for stripe_id in sorted(ours.keys() & theirs.keys()):
            if ours[stripe_id] != theirs[stripe_id]:
                found.append(
                    f"{kind} {stripe_id}: {ours[stripe_id]} in the ledger, "
                    f"{theirs[stripe_id]} at Stripe"
                )
    return found
