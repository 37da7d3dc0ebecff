from django.urls import path

from funds.api import views

app_name = "funds-api"

urlpatterns = [
    path("funds/", views.FundListApi.as_view(), name="fund-list"),
    path("funds/<str:ticker>/", views.FundDetailApi.as_view(), name="fund-detail"),
    path("funds/<str:ticker>/navs/", views.FundNavListApi.as_view(), name="fund-navs"),
    path("funds/<str:ticker>/navs/strike/", views.NavStrikeApi.as_view(), name="fund-nav-strike"),
    path("funds/<str:ticker>/navs/<str:date>/<str:strike>/", views.NavExplainApi.as_view(), name="fund-nav-explain"),
    path("funds/<str:ticker>/portfolio/", views.PortfolioApi.as_view(), name="fund-portfolio"),
    path("securities/", views.SecurityListApi.as_view(), name="security-list"),
]
