"""The assistant's patient pages, under /patient/assistant/."""

urlpatterns: list = []
