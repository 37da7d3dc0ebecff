from django.urls import path

from fof.api import views

app_name = "fof-api"

urlpatterns = [
    path("fof/registrations/", views.RegistrationApi.as_view(), name="registration"),
    path("fof/me/", views.InvestingFundMeApi.as_view(), name="me"),
]
