"""The beat schedule, reviewed like code.

Crontabs are interpreted in America/New_York (CELERY_TIMEZONE), so they follow
daylight-saving changes. Strike instants themselves come from each Fund's
strike times and the NYSE calendar (early closes move the End of Day strike),
so one dispatcher every five minutes of the trading afternoon is enough: it
strikes every NAV whose instant has passed and is not yet struck, and a
strike that failed for a missing price is retried on the next run. The same
task then prices the creation and redemption orders waiting for those NAVs
(Rule 22c-1: each at the next NAV after receipt).

Substitute Baskets are published before the open (08:00 ET by default,
``BASKET_PUBLISH_HOUR``); the task itself skips NYSE holidays. Proxy spreads are
recorded after the End of Day NAVs, every 15 minutes from 16:15 to 19:45 ET
(early closes included: the NAV is struck by then), each run a no-op for Funds
already done.

Publications (Substitute Baskets, corrections, Alternate Baskets, cash announcements) are delivered to
every active AP by ``disseminations-due`` every minute, all day, every day: a run with nothing released
and nothing to retry is a few small queries. Each committed Publication also schedules the same task
at its release time, so the beat bounds the latency (about a minute) rather than setting it.
"""

import os

from celery.schedules import crontab

# Read here, not from django.conf.settings: settings.py imports this module.
BASKET_PUBLISH_HOUR = int(os.environ.get("BASKET_PUBLISH_HOUR", "8"))

NAV_STRIKES_DUE_CRONTAB = crontab(minute="*/5", hour="12-18", day_of_week="mon-fri")
BASKETS_PUBLISH_CRONTAB = crontab(minute=0, hour=BASKET_PUBLISH_HOUR, day_of_week="mon-fri")
PROXY_SPREADS_CRONTAB = crontab(minute="15,30,45", hour="16-19", day_of_week="mon-fri")
# Orders waiting for a NAV struck outside the dispatcher's hours (a strike retried by Operations in the
# evening, say) are priced by this sweep; a run with nothing to price is one query.
ORDERS_PRICE_DUE_CRONTAB = crontab(minute="*/15")
DISSEMINATIONS_DUE_CRONTAB = crontab(minute="*")

BEAT_SCHEDULE = {
    "nav-strikes-due": {
        "task": "orders.tasks.nav_strikes_and_pricing_due_task",
        "schedule": NAV_STRIKES_DUE_CRONTAB,
        "options": {"expires": 4 * 60},
    },
    "substitute-baskets-publish": {
        "task": "baskets.tasks.baskets_publish_due_task",
        "schedule": BASKETS_PUBLISH_CRONTAB,
        "options": {"expires": 60 * 60},
    },
    "orders-price-due": {
        "task": "orders.tasks.orders_price_due_task",
        "schedule": ORDERS_PRICE_DUE_CRONTAB,
        "options": {"expires": 10 * 60},
    },
    "disseminations-due": {
        "task": "orders.tasks.disseminations_due_task",
        "schedule": DISSEMINATIONS_DUE_CRONTAB,
        "options": {"expires": 55},
    },
    "proxy-spreads-record": {
        "task": "baskets.tasks.proxy_spreads_due_task",
        "schedule": PROXY_SPREADS_CRONTAB,
        "options": {"expires": 10 * 60},
    },
}
