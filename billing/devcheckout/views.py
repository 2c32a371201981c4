"""The development hosted payment page: form → the local server → render or redirect."""

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from billing.devcheckout import hosted
from portal.access import PATIENT_SIDE_ROLES, SignedInRequest, roles

ONLY_TEST_CARDS = (
    "This demo page takes Stripe's test cards only: 4242 4242 4242 4242 (paid) "
    "or 4000 0000 0000 0002 (declined). Never enter a real card here."
)


class CardForm(forms.Form):
    card_number = forms.CharField(
        label="Card number",
        max_length=23,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )

    def clean_card_number(self) -> str:
        number = "".join(self.cleaned_data["card_number"].split())
        if number not in hosted.TEST_CARDS:
            raise forms.ValidationError(ONLY_TEST_CARDS)
        return number

    def forget_number(self) -> None:
        """A card number is never sent back to the browser, not even a refused one (it may
        be a real card typed in by mistake): the field re-renders empty with its error."""
        if self.is_bound:
            self.data = {k: v for k, v in self.data.items() if k != "card_number"}


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def hosted_page(request: SignedInRequest, session_id: str) -> HttpResponse:
    session = hosted.session_get(session_id)
    form = CardForm(request.POST or None)
    if not session.open:
        form = CardForm()
    elif request.method == "POST" and form.is_valid():
        try:
            done = hosted.session_pay(session, form.cleaned_data["card_number"])
        except hosted.CardDeclined:
            form.add_error("card_number", "Your card was declined. Try another card.")
        except hosted.DevCheckoutFailed:
            form.add_error(None, "The local payment service did not answer. Try again.")
        else:
            try:
                hosted.completed_deliver(
                    done, webhook_url=request.build_absolute_uri(reverse("stripe_webhook"))
                )
            except hosted.DevCheckoutFailed:
                # Paid on the local server, but the portal was not told: say so, never retry
                # the payment. (Stripe itself would keep retrying the webhook.)
                session = done
                form.add_error(None, "Paid, but the portal was not told. See var/log.")
            else:
                if url_has_allowed_host_and_scheme(done.success_url, {request.get_host()}, True):
                    return redirect(done.success_url)
    form.forget_number()
    back = session.success_url if not session.open else session.cancel_url
    safe = url_has_allowed_host_and_scheme(back, {request.get_host()}, True)
    context = {"session": session, "form": form, "back": back if safe else "/"}
    return render(request, "billing/dev_checkout.html", context)
