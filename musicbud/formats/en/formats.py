"""How the admin writes dates and times: ISO 8601 with the zone (``TIME_ZONE``, UTC), not "Dec. 8, 2026, 12:31 a.m."

``settings.FORMAT_MODULE_PATH`` points here; it replaces Django's English formats (the only language served).
"""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "m-d"
YEAR_MONTH_FORMAT = "Y-m"
