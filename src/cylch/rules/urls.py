from django.urls import path

from cylch.rules import views

app_name = "rules"
urlpatterns = [
    path("alerts/", views.my_alerts, name="alerts"),
    path("alerts/rules/", views.rule_pack, name="pack"),
    path("alerts/lead-coordinators/", views.proposals, name="proposals"),
    path("alerts/lead-coordinators/<uuid:public_id>/confirm/", views.proposal_confirm_view, name="proposal-confirm"),
    path("alerts/lead-coordinators/<uuid:public_id>/decline/", views.proposal_decline_view, name="proposal-decline"),
    path("alerts/<uuid:public_id>/", views.alert, name="alert"),
    path("alerts/<uuid:public_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("alerts/<uuid:public_id>/outcome/", views.outcome, name="outcome"),
    path("alerts/<uuid:public_id>/close/", views.close, name="close"),
]
