from django.urls import path

from fof.api import views

app_name = "fof-api"

urlpatterns = [
    path("fof/registrations/", views.RegistrationApi.as_view(), name="registration"),
    path("fof/me/", views.InvestingFundMeApi.as_view(), name="me"),
    path("fof/agreements/", views.AgreementListCreateApi.as_view(), name="agreements"),
    path("fof/agreements/<int:agreement_id>/", views.AgreementDetailApi.as_view(), name="agreement"),
    path("fof/agreements/<int:agreement_id>/sign/", views.AgreementSignApi.as_view(), name="agreement-sign"),
    path("fof/holdings-reports/", views.HoldingsReportListCreateApi.as_view(), name="holdings-reports"),
    path("fof/affiliates/", views.AffiliateListApi.as_view(), name="affiliates"),
]
