/* mathf.c - the exact float variants of math.h (via double: no rounding
 * happens on the way, so they are exact too). */
#include <math.h>

float fabsf(float x)
{
	return (float)fabs(x);
}

float copysignf(float x, float y)
{
	return (float)copysign(x, y);
}

float floorf(float x)
{
	return (float)floor(x);
}

float ceilf(float x)
{
	return (float)ceil(x);
}

float truncf(float x)
{
	return (float)trunc(x);
}

float roundf(float x)
{
	return (float)round(x);
}

long lroundf(float x)
{
	return lround(x);
}

float fmodf(float x, float y)
{
	return (float)fmod(x, y);
}

float modff(float x, float *ipart)
{
	double i, f = modf(x, &i);

	*ipart = (float)i;
	return (float)f;
}

float frexpf(float x, int *exp)
{
	return (float)frexp(x, exp);
}

float ldexpf(float x, int exp)
{
	return (float)ldexp(x, exp);
}

float fminf(float x, float y)
{
	return (float)fmin(x, y);
}

float fmaxf(float x, float y)
{
	return (float)fmax(x, y);
}

float cbrtf(float x)
{
	return (float)cbrt(x);
}

float hypotf(float x, float y)
{
	return (float)hypot(x, y);
}
