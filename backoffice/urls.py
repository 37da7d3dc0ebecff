from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = "ETF back office"
admin.site.site_title = "ETF back office"
admin.site.index_title = "Funds, NAVs and compliance"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
    path("api/", include("funds.api.urls")),
    path("api/", include("baskets.api.urls")),
    path("api/", include("orders.api.urls")),
    path("api/", include("fof.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
