from django.urls import path

from cylch.access import views

app_name = "access"
urlpatterns = [
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-in/code/", views.sign_in_code, name="sign-in-code"),
    path("sign-in/set-up/", views.sign_in_set_up, name="sign-in-set-up"),
    path("sign-out/", views.sign_out, name="sign-out"),
]
