from django import template

from billing import money as amounts

register = template.Library()


@register.filter
def money(amount: int, currency: str) -> str:
    return amounts.show(int(amount or 0), str(currency or amounts.default_currency()))
