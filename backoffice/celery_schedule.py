"""The beat schedule, reviewed like code.

Crontabs are interpreted in America/New_York (CELERY_TIMEZONE), so they follow
daylight-saving changes. Strike instants themselves come from each Fund's
strike times and the NYSE calendar (early closes move the End of Day strike),
so one dispatcher every five minutes of the trading afternoon is enough: it
strikes every NAV whose instant has passed and is not yet struck, and a
strike that failed for a missing price is retried on the next run.
"""

from celery.schedules import crontab

NAV_STRIKES_DUE_CRONTAB = crontab(minute="*/5", hour="12-18", day_of_week="mon-fri")

BEAT_SCHEDULE = {
    "nav-strikes-due": {
        "task": "funds.tasks.nav_strikes_due_task",
        "schedule": NAV_STRIKES_DUE_CRONTAB,
        "options": {"expires": 4 * 60},
    },
}
