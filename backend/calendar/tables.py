from piccolo.columns import Boolean, Date, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class CalendarDay(Table, tablename="calendar_day"):
    """An override of one day: a holiday, or a weekend day that is a make-up working day."""

    date = Date(unique=True)
    working = Boolean()
    name = Varchar(length=100, default="")
    source = Varchar(length=100, default="")
    imported_at = Timestamptz()


class CalendarYear(Table, tablename="calendar_year"):
    """A year whose official holiday schedule has been imported, so its deadlines are final."""

    year = Integer(unique=True)
    source = Text(default="")
    imported_at = Timestamptz()
