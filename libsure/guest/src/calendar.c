/* calendar.c - UTC calendar arithmetic (gmtime, timegm) and strftime in the
 * C locale. Days are counted from 1970-01-01 with the proleptic Gregorian
 * calendar; years are shifted to start in March so that the leap day ends
 * a year, which makes the month lengths a fixed pattern. */
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const DAY_NAME[7] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
					 "Thursday", "Friday", "Saturday" };
static const char *const MONTH_NAME[12] = { "January", "February", "March",	"April",
					    "May",     "June",	   "July",	"August",
					    "September", "October", "November", "December" };

static long floor_div(long a, long b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int is_leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of year y, month m (1..12), day d (1..31). */
static long days_from_civil(long y, long m, long d)
{
	y -= m <= 2; /* January and February belong to the previous March year */
	long era = floor_div(y, 400);
	long yoe = y - era * 400; /* 0..399 */
	long mp = (m + 9) % 12; /* March = 0 */
	long doy = (153 * mp + 2) / 5 + d - 1; /* 0..365 */
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
	return era * 146097 + doe - 719468; /* 719468: 0000-03-01 to 1970-01-01 */
}

static void civil_from_days(long z, long *y, int *m, int *d)
{
	z += 719468;
	long era = floor_div(z, 146097);
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

struct tm *gmtime_r(const time_t *t, struct tm *out)
{
	long days = floor_div(*t, 86400), secs = *t - days * 86400, y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	if (y - 1900 > 2147483647L || y - 1900 < -2147483647L - 1)
		return NULL;
	out->tm_sec = (int)(secs % 60);
	out->tm_min = (int)(secs / 60 % 60);
	out->tm_hour = (int)(secs / 3600);
	out->tm_mday = d;
	out->tm_mon = m - 1;
	out->tm_year = (int)(y - 1900);
	out->tm_wday = (int)(floor_div(days + 4, 7) * -7 + days + 4); /* 1970-01-01: Thursday */
	out->tm_yday = (int)(days - days_from_civil(y, 1, 1));
	out->tm_isdst = 0;
	out->tm_gmtoff = 0;
	out->tm_zone = "GMT"; /* as glibc's gmtime names it */
	return out;
}

struct tm *gmtime(const time_t *t)
{
	static struct tm tm;

	return gmtime_r(t, &tm);
}

struct tm *localtime_r(const time_t *t, struct tm *out)
{
	return gmtime_r(t, out);
}

struct tm *localtime(const time_t *t)
{
	return gmtime(t);
}

time_t timegm(struct tm *tm)
{
	/* Months beyond 0..11 carry into the year; the rest just adds up. */
	long mon = tm->tm_mon, y = (long)tm->tm_year + 1900 + floor_div(mon, 12);
	mon -= floor_div(mon, 12) * 12;
	long days = days_from_civil(y, mon + 1, 1) + tm->tm_mday - 1;
	time_t t = days * 86400 + (long)tm->tm_hour * 3600 + (long)tm->tm_min * 60 + tm->tm_sec;

	gmtime_r(&t, tm); /* normalise the caller's fields, as mktime does */
	return t;
}

time_t mktime(struct tm *tm)
{
	return timegm(tm);
}

/* ISO 8601 week number (1..53) and its year: weeks start on Monday and
 * week 1 holds the year's first Thursday. */
static int iso_week(const struct tm *tm, long *iso_year)
{
	long y = (long)tm->tm_year + 1900;
	int wday = (tm->tm_wday + 6) % 7; /* Monday = 0 */
	int week = (tm->tm_yday - wday + 10) / 7;

	if (week < 1) {
		/* The last week of the previous year: 52 or 53. */
		y--;
		int yday = tm->tm_yday + 365 + is_leap(y);
		week = (yday - wday + 10) / 7;
	} else if (week == 53) {
		int days = 365 + is_leap(y);
		if (tm->tm_yday - wday + 3 >= days) { /* its Thursday is next year's */
			week = 1;
			y++;
		}
	}
	*iso_year = y;
	return week;
}

struct out {
	char *buf;
	size_t cap, len;
	int full;
	char flag; /* of the conversion at hand: '-', '_', '0' or 0 */
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap) {
		o->full = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void out_puts(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* A number of at least width digits, padded with pad ('0' or ' '); the
 * conversion's flag ('-': no padding, '_': spaces, '0': zeros) overrides. */
static void out_num(struct out *o, int width, char pad, long v)
{
	char tmp[32];

	if (o->flag == '-')
		width = 1;
	else if (o->flag == '_' || o->flag == '0')
		pad = o->flag == '_' ? ' ' : '0';
	int n = snprintf(tmp, sizeof(tmp), pad == '0' ? "%0*ld" : "%*ld", width, v);
	out_put(o, tmp, (size_t)n);
}

static void out_format(struct out *o, const char *fmt, const struct tm *tm);

/* One conversion; an unknown one is copied as it is. */
static void out_convert(struct out *o, char c, const struct tm *tm)
{
	long year = (long)tm->tm_year + 1900, iso_year;
	int hour12 = tm->tm_hour % 12 ? tm->tm_hour % 12 : 12;
	const char *day = (unsigned)tm->tm_wday < 7 ? DAY_NAME[tm->tm_wday] : "?";
	const char *mon = (unsigned)tm->tm_mon < 12 ? MONTH_NAME[tm->tm_mon] : "?";

	switch (c) {
	case 'a': out_put(o, day, strlen(day) < 3 ? strlen(day) : 3); break;
	case 'A': out_puts(o, day); break;
	case 'b':
	case 'h': out_put(o, mon, strlen(mon) < 3 ? strlen(mon) : 3); break;
	case 'B': out_puts(o, mon); break;
	case 'c': out_format(o, "%a %b %e %H:%M:%S %Y", tm); break;
	case 'C': out_num(o, 1, '0', floor_div(year, 100)); break; /* glibc: no padding */
	case 'd': out_num(o, 2, '0', tm->tm_mday); break;
	case 'D':
	case 'x': out_format(o, "%m/%d/%y", tm); break;
	case 'e': out_num(o, 2, ' ', tm->tm_mday); break;
	case 'F': out_format(o, "%Y-%m-%d", tm); break;
	case 'g': iso_week(tm, &iso_year); out_num(o, 2, '0', (iso_year % 100 + 100) % 100); break;
	case 'G': iso_week(tm, &iso_year); out_num(o, 1, ' ', iso_year); break;
	case 'H': out_num(o, 2, '0', tm->tm_hour); break;
	case 'I': out_num(o, 2, '0', hour12); break;
	case 'j': out_num(o, 3, '0', tm->tm_yday + 1); break;
	case 'm': out_num(o, 2, '0', tm->tm_mon + 1); break;
	case 'M': out_num(o, 2, '0', tm->tm_min); break;
	case 'n': out_puts(o, "\n"); break;
	case 'p': out_puts(o, tm->tm_hour < 12 ? "AM" : "PM"); break;
	case 'r': out_format(o, "%I:%M:%S %p", tm); break;
	case 'R': out_format(o, "%H:%M", tm); break;
	case 's': {
		struct tm copy = *tm;
		out_num(o, 1, ' ', timegm(&copy));
		break;
	}
	case 'S': out_num(o, 2, '0', tm->tm_sec); break;
	case 't': out_puts(o, "\t"); break;
	case 'T':
	case 'X': out_format(o, "%H:%M:%S", tm); break;
	case 'u': out_num(o, 1, ' ', tm->tm_wday ? tm->tm_wday : 7); break;
	case 'U': out_num(o, 2, '0', (tm->tm_yday + 7 - tm->tm_wday) / 7); break;
	case 'V': out_num(o, 2, '0', iso_week(tm, &iso_year)); break;
	case 'w': out_num(o, 1, ' ', tm->tm_wday); break;
	case 'W': out_num(o, 2, '0', (tm->tm_yday + 7 - (tm->tm_wday + 6) % 7) / 7); break;
	case 'y': out_num(o, 2, '0', (year % 100 + 100) % 100); break;
	case 'Y': out_num(o, 1, ' ', year); break;
	case 'z': out_puts(o, "+0000"); break;
	case 'Z': out_puts(o, tm->tm_zone ? tm->tm_zone : "GMT"); break;
	case '%': out_puts(o, "%"); break;
	default: {
		char unknown[2] = { '%', c };
		out_put(o, unknown, 2);
	}
	}
}

static void out_format(struct out *o, const char *fmt, const struct tm *tm)
{
	for (const char *p = fmt; *p && !o->full; p++) {
		if (*p != '%') {
			out_put(o, p, 1);
			continue;
		}
		p++;
		/* Flags - _ 0 change the padding of numbers; ^ # E O are accepted
		 * and ignored. */
		o->flag = 0;
		while (*p == 'E' || *p == 'O' || *p == '-' || *p == '_' || *p == '0' || *p == '^' ||
		       *p == '#') {
			if (*p == '-' || *p == '_' || *p == '0')
				o->flag = *p;
			p++;
		}
		if (!*p) {
			out_put(o, "%", 1);
			break;
		}
		out_convert(o, *p, tm);
	}
}

/* The length written without the NUL, or 0 when it did not fit (C says the
 * buffer's contents are then unspecified; here they hold a NUL-ended prefix). */
size_t strftime(char *buf, size_t cap, const char *fmt, const struct tm *tm)
{
	struct out o = { buf, cap, 0, 0, 0 };

	if (cap == 0)
		return 0;
	out_format(&o, fmt, tm);
	buf[o.len] = '\0';
	return o.full ? 0 : o.len;
}

char *asctime_r(const struct tm *tm, char *buf)
{
	if (strftime(buf, 26, "%a %b %e %H:%M:%S %Y\n", tm) == 0)
		return NULL;
	return buf;
}

char *ctime_r(const time_t *t, char *buf)
{
	struct tm tm;

	return gmtime_r(t, &tm) ? asctime_r(&tm, buf) : NULL;
}

char *asctime(const struct tm *tm)
{
	static char buf[26];

	return asctime_r(tm, buf);
}

char *ctime(const time_t *t)
{
	static char buf[26];

	return ctime_r(t, buf);
}
