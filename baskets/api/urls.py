from django.urls import path

from baskets.api import views

app_name = "baskets-api"

urlpatterns = [
    path("funds/<str:ticker>/basket/", views.BasketApi.as_view(), name="basket"),
    path("funds/<str:ticker>/basket/pcf/", views.BasketPcfApi.as_view(), name="basket-pcf"),
    path("funds/<str:ticker>/basket/metrics/", views.BasketMetricsHistoryApi.as_view(), name="basket-metrics"),
]
