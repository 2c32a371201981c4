"""The assistant's staff pages, under /staff/assistant/."""

urlpatterns: list = []
