from django.urls import path

from cylch.governance import rights_views, views, webhook_views

app_name = "governance"
urlpatterns = [
    path("approvals/", views.queue, name="approvals"),
    path("approvals/<uuid:public_id>/", views.approval, name="approval"),
    path("approvals/<uuid:public_id>/withdraw/", views.withdraw, name="withdraw"),
]

# Outbound webhooks (docs/governance.md, "Webhooks").
urlpatterns += [
    path("webhooks/", webhook_views.subscriptions, name="webhooks"),
    path("webhooks/new/", webhook_views.subscription_new, name="webhook_new"),
    path("webhooks/<uuid:public_id>/", webhook_views.subscription, name="webhook"),
    path("webhooks/<uuid:public_id>/deactivate/", webhook_views.deactivate, name="webhook_deactivate"),
    path("webhooks/<uuid:public_id>/test/", webhook_views.test, name="webhook_test"),
]

# People's rights: subject access and rectification (docs/governance.md, "People's rights").
urlpatterns += [
    path("people/<uuid:person_id>/rights/", rights_views.person_rights, name="rights"),
    path("people/<uuid:person_id>/rights/access/", rights_views.subject_access, name="subject-access"),
    path("people/<uuid:person_id>/rights/requests/new/", rights_views.request_new, name="rights-request-new"),
    path("rights/requests/", rights_views.requests_list, name="rights-requests"),
    path("rights/requests/<uuid:public_id>/", rights_views.request_detail, name="rights-request"),
    path("people/<uuid:person_id>/entries/<uuid:event_id>/rectify/", rights_views.rectify, name="rectify"),
    path("people/<uuid:person_id>/entries/<uuid:event_id>/versions/", rights_views.versions, name="versions"),
]
