"""Routes for the reviews app's assessment pages (included by reviews/urls.py, same namespace)."""

urlpatterns: list = []
