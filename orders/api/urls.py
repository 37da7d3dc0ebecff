from django.urls import path

from orders.api import publications, views

app_name = "orders-api"

urlpatterns = [
    path("orders/", views.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/records.csv", views.BasketRecordsExportApi.as_view(), name="basket-records-export"),
    path("orders/<str:reference>/", views.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:reference>/cancel/", views.OrderCancelApi.as_view(), name="order-cancel"),
    path("orders/<str:reference>/settle/", views.OrderSettleApi.as_view(), name="order-settle"),
    path("orders/<str:reference>/fail/", views.OrderFailApi.as_view(), name="order-fail"),
    path("orders/<str:reference>/require-cash/", views.OrderRequireCashApi.as_view(), name="order-require-cash"),
    path("funds/<str:ticker>/cash-days/", views.CashDayApi.as_view(), name="fund-cash-days"),
    path("orders/<str:reference>/basket-record/", views.OrderBasketRecordApi.as_view(), name="order-basket-record"),
    path("ap/me/", views.ParticipantMeApi.as_view(), name="participant-me"),
    path("ap/agreements/", views.AgreementListApi.as_view(), name="agreement-list"),
    path("ap/agreements/<int:pk>/", views.AgreementDetailApi.as_view(), name="agreement-detail"),
    path("publications/", publications.PublicationListApi.as_view(), name="publication-list"),
    path("publications/<int:sequence>/", publications.PublicationDetailApi.as_view(), name="publication-detail"),
    path("publications/<int:sequence>/ack/", publications.PublicationAckApi.as_view(), name="publication-ack"),
    path("funds/<str:ticker>/alternate-baskets/", publications.AlternateBasketListApi.as_view(), name="fund-alternate-baskets"),
]
