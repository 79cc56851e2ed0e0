"""Routes for the reviews app's repository pages (included by reviews/urls.py, same namespace)."""

urlpatterns: list = []
